"""Connection secrets at rest.

A connector's config travels inside dataset events, which are kept forever, so every field
annotated `Secret` (connectors/plugin.py) is stored sealed: ``{"$sealed": "<Fernet token>"}``
instead of its value. Tokens are Fernet (AES-128-CBC + HMAC-SHA256, authenticated), made by a
`MultiFernet` over the configured keys: the first key seals, every key opens, so keys rotate by
putting a new key first and keeping the old ones until `SecretBox.reseal` has run over the
stored configs.

Keys come from ``LOUPE_SECRET_KEY`` (url-safe base64 Fernet keys, comma-separated, newest
first: `SecretBox.from_setting`) or, in the embedded default, from ``<data_dir>/secret.key``,
created with mode 0600 on first use (`load_or_create_key`). Whoever holds the key holds the
secrets: back it up with the database, never beside it in the same dump.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeGuard

import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connectors.errors import InvalidConfig
from connectors.plugin import secret_fields

SEALED: Final = "$sealed"
REDACTED: Final = "***"
KEY_FILE: Final = "secret.key"
SETTING: Final = "LOUPE_SECRET_KEY"


class SecretBox:
    """Seals and opens the secret fields of connector configs with one or more Fernet keys."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError(f"{SETTING}: at least one key is needed")
        fernets: list[Fernet] = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # Never echo the key: it is a secret too.
                raise ValueError(
                    f"{SETTING}: key #{number} is not a Fernet key "
                    "(32 bytes in url-safe base64, as Fernet.generate_key() makes)"
                ) from None
        self._box = MultiFernet(fernets)

    @classmethod
    def from_setting(cls, text: str) -> SecretBox:
        """Keys as the setting holds them: comma-separated, the sealing (newest) key first."""
        return cls([part.strip() for part in text.split(",") if part.strip()])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    # -- one value -------------------------------------------------------------------------

    def seal_value(self, plaintext: str) -> dict[str, str]:
        return {SEALED: self._box.encrypt(plaintext.encode("utf-8")).decode("ascii")}

    def open_value(self, sealed: Mapping[str, Any], field: str) -> str:
        token = sealed.get(SEALED)
        if not isinstance(token, str):
            raise InvalidConfig(f"the secret of field {field!r} is not a sealed value")
        try:
            return self._box.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise InvalidConfig(
                f"the secret of field {field!r} cannot be decrypted with the configured {SETTING}"
            ) from None

    # -- configs ---------------------------------------------------------------------------

    def seal(self, config_type: type[msgspec.Struct], config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with each secret value replaced by ``{"$sealed": token}`` (values already
        sealed are kept as they are; None stays None)."""
        sealed = dict(config)
        for field in secret_fields(config_type):
            value = sealed.get(field)
            if value is None or _is_sealed(value):
                continue
            if not isinstance(value, str):
                raise InvalidConfig(f"the secret field {field!r} must be a string")
            sealed[field] = self.seal_value(value)
        return sealed

    def open(self, config_type: type[msgspec.Struct], stored: Mapping[str, Any]) -> dict[str, Any]:
        """The stored config with its secrets in clear, for the connector (never for an API
        answer: `redact` is for those). A secret stored unsealed is passed through."""
        opened = dict(stored)
        for field in secret_fields(config_type):
            value = opened.get(field)
            if _is_sealed(value):
                opened[field] = self.open_value(value, field)
        return opened

    def reseal(
        self, config_type: type[msgspec.Struct], stored: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``stored`` with every sealed secret sealed again under the first key (rotation)."""
        rotated = dict(stored)
        for field in secret_fields(config_type):
            value = rotated.get(field)
            if _is_sealed(value):
                try:
                    token = self._box.rotate(value[SEALED].encode("ascii"))
                except InvalidToken:
                    raise InvalidConfig(
                        f"the secret of field {field!r} cannot be decrypted with the "
                        f"configured {SETTING}"
                    ) from None
                rotated[field] = {SEALED: token.decode("ascii")}
            elif isinstance(value, str):
                rotated[field] = self.seal_value(value)
        return rotated

    def redact(
        self, config_type: type[msgspec.Struct], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        return redact(config_type, config)


def redact(config_type: type[msgspec.Struct], config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` (sealed or not) with every secret that is set shown as ``"***"``."""
    shown = dict(config)
    for field in secret_fields(config_type):
        if shown.get(field) is not None:
            shown[field] = REDACTED
    return shown


def _is_sealed(value: object) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and set(value) == {SEALED}


def load_or_create_key(data_dir: Path) -> str:
    """The key in ``<data_dir>/secret.key``, generated (mode 0600) when there is none yet."""
    path = data_dir / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = SecretBox.generate_key()
    # Written whole under a private name, then linked into place: a process starting at the
    # same moment sees either no key file or a complete one, never a half-written one.
    draft = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:  # another process made it first: use theirs
            return _read_key(path)
    finally:
        draft.unlink(missing_ok=True)
    return key


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ValueError(f"{path} is empty; delete it only if no secret was sealed with it")
    return key
