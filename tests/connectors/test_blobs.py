"""The blob store: the local directory store fully, S3 as far as parsing its URL (there is no
S3-compatible server in the test environment, so puts and gets against S3 are untested)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connectors.blobs import (
    BlobStore,
    InvalidBlobKey,
    check_key,
    dataset_key,
    open_blob_store,
    s3_store_from_url,
)


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return open_blob_store(tmp_path / "data")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def test_a_put_file_is_found_by_its_key(store: BlobStore, tmp_path: Path) -> None:
    key = "datasets/abc/1-deadbeef.parquet"
    await store.put_file(key, _file(tmp_path, "x.parquet", b"hello"))
    assert await store.exists(key)
    assert await store.size(key) == 5
    local = await store.local_path(key)
    assert local.read_bytes() == b"hello"
    assert local == tmp_path / "data" / "blobs" / "datasets" / "abc" / "1-deadbeef.parquet"


async def test_the_local_store_lives_under_the_data_dir(store: BlobStore, tmp_path: Path) -> None:
    assert store.is_local
    assert store.local_directory == (tmp_path / "data" / "blobs").resolve()


async def test_put_file_keeps_the_source_unless_asked_to_move_it(
    store: BlobStore, tmp_path: Path
) -> None:
    kept = _file(tmp_path, "kept.bin", b"a")
    moved = _file(tmp_path, "moved.bin", b"b")
    await store.put_file("k/kept", kept)
    await store.put_file("k/moved", moved, remove_source=True)
    assert kept.exists()
    assert not moved.exists()
    assert (await store.local_path("k/moved")).read_bytes() == b"b"


async def test_a_big_file_is_stored_whole(store: BlobStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * (40 * 1024 * 4)  # 40 MiB, more than one multipart part
    await store.put_file("big/file", _file(tmp_path, "big", data))
    assert await store.size("big/file") == len(data)
    assert (await store.local_path("big/file")).read_bytes() == data


async def test_putting_a_key_again_replaces_the_blob(store: BlobStore, tmp_path: Path) -> None:
    await store.put_file("a/b", _file(tmp_path, "one", b"one"))
    await store.put_file("a/b", _file(tmp_path, "two", b"two"), remove_source=True)
    assert (await store.local_path("a/b")).read_bytes() == b"two"


async def test_a_deleted_blob_is_gone_and_deleting_again_is_harmless(
    store: BlobStore, tmp_path: Path
) -> None:
    await store.put_file("a/b", _file(tmp_path, "one", b"one"))
    await store.delete("a/b")
    await store.delete("a/b")
    assert not await store.exists("a/b")
    with pytest.raises(FileNotFoundError):
        await store.local_path("a/b")
    with pytest.raises(FileNotFoundError):
        await store.size("a/b")


async def test_concurrent_puts_of_different_keys_do_not_interfere(
    store: BlobStore, tmp_path: Path
) -> None:
    files = [_file(tmp_path, f"f{i}", str(i).encode() * 1000) for i in range(10)]
    await asyncio.gather(*(store.put_file(f"many/{i}", f) for i, f in enumerate(files)))
    for i in range(10):
        assert (await store.local_path(f"many/{i}")).read_bytes() == str(i).encode() * 1000


@pytest.mark.parametrize(
    "key",
    ["", "/abs/path", "../escape", "a/../../b", "a//b", "a/./b", "a\\b", "a/b/", "é/x", "a b"],
)
async def test_keys_that_could_escape_the_store_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        check_key(key)
    with pytest.raises(InvalidBlobKey):
        await store.exists(key)
    with pytest.raises(InvalidBlobKey):
        store.cache_path(key)


def test_each_upload_gets_its_own_key_under_its_dataset() -> None:
    first, second = dataset_key("0b3f", "ab" * 32), dataset_key("0b3f", "ab" * 32)
    assert first.startswith("datasets/0b3f/abababababababab-")
    assert first.endswith(".parquet")
    assert first != second


def test_a_file_url_names_a_local_directory(tmp_path: Path) -> None:
    store = open_blob_store(tmp_path / "data", f"file://{tmp_path / 'elsewhere'}")
    assert store.is_local
    assert store.local_directory == (tmp_path / "elsewhere").resolve()


def test_an_s3_url_with_an_endpoint_becomes_a_path_style_store(tmp_path: Path) -> None:
    store = s3_store_from_url(
        "s3://loupe-data/prod/blobs?endpoint=http://minio:9000&region=eu-west-1"
    )
    assert store.prefix == "prod/blobs"
    config = store.config
    assert config["bucket"] == "loupe-data"
    assert config["endpoint"] == "http://minio:9000"
    assert config["region"] == "eu-west-1"
    assert str(config["virtual_hosted_style_request"]).lower() == "false"
    assert str(store.client_options.get("allow_http")).lower() == "true"  # type: ignore[union-attr]


def test_an_s3_blob_store_caches_files_under_the_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(tmp_path / "data", "s3://bucket?region=us-east-1")
    assert not store.is_local
    assert store.local_directory == (tmp_path / "data" / "blob-cache").resolve()
    assert store.cache_path("datasets/x/1-ab.parquet") == (
        store.local_directory / "datasets" / "x" / "1-ab.parquet"
    )


def test_a_plain_s3_url_has_no_prefix_and_https_only() -> None:
    store = s3_store_from_url("s3://bucket")
    assert store.prefix is None
    assert "allow_http" not in (store.client_options or {})


@pytest.mark.parametrize(
    "url", ["s3://", "http://bucket", "s3://bucket?endpoint=x&colour=blue", "ftp://x/y"]
)
def test_malformed_blob_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match=r"URL|option"):
        open_blob_store(tmp_path, url)


def test_from_url_is_open_blob_store_with_the_url_first(tmp_path: Path) -> None:
    assert BlobStore.from_url(None, tmp_path).local_directory == (tmp_path / "blobs").resolve()
