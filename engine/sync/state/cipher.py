"""Encryption of the secrets the state must keep to finish later work (webhook events waiting for Salesforce).

The key is the operator's: ``ZOOMFORCE_STATE_KEY``, one or more Fernet keys separated by commas
(the first encrypts, every one decrypts, so a key can be rotated). Fernet is authenticated
encryption (AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package): a value altered in
the file, or sealed with another key, is refused rather than misread. Make a key with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

A sealed value is the text ``zoomforce:sealed:v1:`` and a Fernet token of its JSON. Without a key,
the state keeps no secret at all: the webhook inbox holds ``***`` in their place and the event
writes the other fields (docs/secrets.md says what follows).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from engine.errors import ConfigError

KEY_VARIABLE = "ZOOMFORCE_STATE_KEY"
SEALED_PREFIX = "zoomforce:sealed:v1:"


class Unsealable(ValueError):
    """A sealed value that no key given can open (another key, or altered in the file)."""


class StateCipher:
    """Seals and opens values with the operator's keys."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("a StateCipher needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StateCipher | None:
        """The cipher of ``ZOOMFORCE_STATE_KEY``, or None when it is unset; ConfigError when it is not a key."""
        text = (env.get(KEY_VARIABLE) or "").strip()
        if not text:
            return None
        keys = [part.strip().encode("ascii", "replace") for part in text.split(",") if part.strip()]
        try:
            return cls(keys)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{KEY_VARIABLE} is not a Fernet key (32 url-safe base64-encoded bytes; several separated by "
                'commas): make one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from exc

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def seal(self, value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        return SEALED_PREFIX + self._fernet.encrypt(text.encode("utf-8", "surrogatepass")).decode("ascii")

    def open(self, sealed: str) -> Any:
        try:
            text = self._fernet.decrypt(sealed[len(SEALED_PREFIX):].encode("ascii", "replace"))
        except InvalidToken as exc:
            raise Unsealable("a sealed value cannot be opened with ZOOMFORCE_STATE_KEY (another key?)") from exc
        return json.loads(text.decode("utf-8", "surrogatepass"))


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)
