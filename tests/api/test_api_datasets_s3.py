"""Datasets whose data lives in S3-compatible storage (LOUPE_BLOB_URL=s3://…): a real
S3 server (s3rver) holds the Parquet files; queries read a local cached copy."""

from __future__ import annotations

import asyncio

import msgspec

from tests.api.test_api_datasets import WEATHER, query, upload
from tests.apiclient import create_workspace
from tests.server import running_loupe


def _objects(s3_server) -> list[str]:
    """The keys the server holds (s3rver keeps an object as ``<key>._S3rver_object``)."""
    bucket = s3_server.directory / s3_server.bucket
    suffix = "._S3rver_object"
    return sorted(
        str(p.relative_to(bucket)).removesuffix(suffix) for p in bucket.rglob(f"*{suffix}")
    )


async def test_an_uploaded_csv_lives_in_s3_and_answers_queries(settings, s3_server):
    settings = msgspec.structs.replace(
        settings, blob_url=f"s3://loupe/loupe-data?endpoint={s3_server.endpoint}&region=us-east-1"
    )
    async with running_loupe(settings) as loupe, loupe.client() as client:
        loupe.services.data.retire_after = 0
        workspace = await create_workspace(client)
        response = await upload(client, workspace["id"], WEATHER.read_bytes())
        assert response.status_code == 201, response.text
        dataset = response.json()
        stored = _objects(s3_server)
        counted = await query(
            client, dataset["id"], {"measures": [{"field": "date", "agg": "count"}]}
        )
        again = await client.put(
            f"/datasets/{dataset['id']}/data",
            files={
                "file": (
                    "w.csv",
                    b"".join(WEATHER.read_bytes().splitlines(keepends=True)[:51]),
                    "text/csv",
                )
            },
        )
        assert again.status_code == 200, again.text
        await asyncio.gather(*loupe.services.data.retiring)
        after = _objects(s3_server)
        recounted = await query(
            client, dataset["id"], {"measures": [{"field": "date", "agg": "count"}]}
        )
    assert counted["rows"] == [[1461]]
    assert len(stored) == 1
    assert stored[0].startswith(f"loupe-data/datasets/{dataset['id']}/")
    assert len(after) == 1
    assert after != stored  # the first upload's data is gone, the new one is there
    assert recounted["rows"] == [[50]]
