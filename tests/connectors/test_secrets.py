"""Connection secrets are sealed at rest, open with any configured key, and never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectors.errors import InvalidConfig
from connectors.plugin import Secret
from connectors.secrets import REDACTED, SEALED, SecretBox, load_or_create_key, redact


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str
    user: str
    password: Secret | None = None
    api_token: Secret | None = None


PASSWORD = "s3cr3t pässword"  # noqa: S105 - the test's own
STORED = {"host": "db.example.org", "user": "reader", "password": PASSWORD, "api_token": None}


def test_a_sealed_config_opens_to_the_original() -> None:
    box = SecretBox([SecretBox.generate_key()])
    sealed = box.seal(Config, STORED)
    assert sealed["host"] == "db.example.org"
    assert sealed["user"] == "reader"
    assert set(sealed["password"]) == {SEALED}
    assert sealed["api_token"] is None
    assert box.open(Config, sealed) == STORED
    # What the connector gets converts to its config type.
    assert msgspec.convert(box.open(Config, sealed), Config).password == PASSWORD


def test_sealing_twice_gives_different_tokens_for_the_same_secret() -> None:
    box = SecretBox([SecretBox.generate_key()])
    first, second = box.seal(Config, STORED), box.seal(Config, STORED)
    assert first["password"] != second["password"]
    assert box.open(Config, first) == box.open(Config, second)


def test_sealing_a_sealed_config_changes_nothing() -> None:
    box = SecretBox([SecretBox.generate_key()])
    sealed = box.seal(Config, STORED)
    assert box.seal(Config, sealed) == sealed


def test_a_rotated_box_opens_old_secrets_and_seals_with_the_new_key() -> None:
    old_key, new_key = SecretBox.generate_key(), SecretBox.generate_key()
    sealed_before = SecretBox([old_key]).seal(Config, STORED)

    rotated = SecretBox.from_setting(f"{new_key}, {old_key}")
    assert rotated.open(Config, sealed_before) == STORED

    sealed_after = rotated.seal(Config, STORED)
    assert SecretBox([new_key]).open(Config, sealed_after) == STORED
    with pytest.raises(InvalidConfig):
        SecretBox([old_key]).open(Config, sealed_after)

    # Resealing moves old tokens to the new key, after which the old key can go.
    resealed = rotated.reseal(Config, sealed_before)
    assert SecretBox([new_key]).open(Config, resealed) == STORED


def test_a_wrong_key_is_a_clear_config_error() -> None:
    sealed = SecretBox([SecretBox.generate_key()]).seal(Config, STORED)
    other = SecretBox([SecretBox.generate_key()])
    with pytest.raises(InvalidConfig) as caught:
        other.open(Config, sealed)
    assert caught.value.detail == (
        "the secret of field 'password' cannot be decrypted with the configured LOUPE_SECRET_KEY"
    )
    assert caught.value.status == 422


def test_a_tampered_token_does_not_open() -> None:
    box = SecretBox([SecretBox.generate_key()])
    sealed = box.seal(Config, STORED)
    token = sealed["password"][SEALED]
    tampered = {
        **sealed,
        "password": {SEALED: token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]},
    }
    with pytest.raises(InvalidConfig, match="'password' cannot be decrypted"):
        box.open(Config, tampered)


def test_redaction_hides_every_set_secret_sealed_or_not() -> None:
    box = SecretBox([SecretBox.generate_key()])
    with_token = {**STORED, "api_token": "tok-123"}
    expected = {**with_token, "password": REDACTED, "api_token": REDACTED}
    assert redact(Config, with_token) == expected
    assert box.redact(Config, box.seal(Config, with_token)) == expected
    # An unset secret stays unset: "***" would claim there is one.
    assert redact(Config, STORED)["api_token"] is None


def test_the_setting_rejects_a_malformed_key_without_echoing_it() -> None:
    good = SecretBox.generate_key()
    with pytest.raises(ValueError, match="key #2 is not a Fernet key") as caught:
        SecretBox.from_setting(f"{good},not-a-key-at-all")
    assert "not-a-key-at-all" not in str(caught.value)
    with pytest.raises(ValueError, match="at least one key"):
        SecretBox.from_setting(" , ")


def test_the_embedded_key_is_created_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    key = load_or_create_key(data_dir)
    path = data_dir / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(data_dir) == key
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]  # no draft left behind
    sealed = SecretBox.from_setting(key).seal(Config, STORED)
    assert SecretBox.from_setting(load_or_create_key(data_dir)).open(Config, sealed) == STORED


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(min_size=8, max_size=200), token=st.none() | st.text(min_size=8))
def test_no_secret_plaintext_appears_in_the_sealed_json(password: str, token: str | None) -> None:
    config = {"host": "db.example.org", "user": "reader", "password": password, "api_token": token}
    # The stored JSON's own words (field names, host, "$sealed") are not secrets.
    skeleton = (
        '{"host":"db.example.org","user":"reader","password":{"$sealed":""},"api_token":null}'
    )
    assume(not any(secret in skeleton for secret in (password, token) if secret))
    box = SecretBox([SecretBox.generate_key()])
    stored = msgspec.json.encode(box.seal(Config, config)).decode()
    for secret in filter(None, (password, token)):
        assert secret not in stored
        assert msgspec.json.encode(secret).decode()[1:-1] not in stored
    assert box.open(Config, msgspec.json.decode(stored)) == config
