"""Webhook secrets encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256) under keys from
``NOTIFICATIONS_WEBHOOK_SECRET_KEY``. The first key encrypts, every key decrypts, so a key
is rotated by putting the new one in front; each later write re-encrypts with it."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

#: Marks an encrypted value; a value without it is a secret stored before encryption,
#: read as it is and encrypted at the endpoint's next write.
PREFIX = "fernet:"


class SecretKeyError(RuntimeError):
    """A stored secret cannot be decrypted with any configured key."""


class FernetCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretKeyError("a webhook secret cannot be decrypted with the configured keys") from None
