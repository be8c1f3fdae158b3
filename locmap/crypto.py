"""Secrets kept encrypted at rest: a field key derived from the app's secret key.

Only what must be read back in the clear is stored this way (today: each user's TOTP
secret, which the server needs to compute the expected code). Passwords and recovery
codes are hashes, never encrypted.

The field key is HKDF-SHA256 of the app's secret key (``SECRET_KEY``, or the key file in
the data folder; see :mod:`locmap.config`) with a purpose label, so the session signing key
and the field key are different keys. A value is stored as ``v1:`` and a Fernet token
(AES-128-CBC with HMAC-SHA256, a random IV each time): reading the column shows neither the
secret nor whether two users share one. Changing the secret key makes the stored values
unreadable: two-factor then fails closed and an operator resets it (``locmap user
totp-reset EMAIL``). Backups carry the key file, so a restore reads them again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["FieldBox", "Unreadable", "PREFIX"]

PREFIX = "v1:"
_PURPOSE = b"locmap field encryption v1: totp_secret"


class Unreadable(ValueError):
    """A stored value that this secret key cannot decrypt (or that is not encrypted)."""


class FieldBox:
    """Encrypts and decrypts short text fields with a key derived from ``secret_key``.

    Examples
    --------
    >>> box = FieldBox("example secret key")
    >>> stored = box.encrypt("JBSWY3DPEHPK3PXP")
    >>> stored.startswith(PREFIX) and "JBSWY3DP" not in stored
    True
    >>> box.decrypt(stored)
    'JBSWY3DPEHPK3PXP'
    """

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("A secret key is needed to encrypt fields.")
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=_PURPOSE).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def encrypt(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            raise Unreadable("The stored value is not encrypted.")
        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise Unreadable("The stored value does not decrypt with this secret key.") \
                from exc

    @staticmethod
    def is_encrypted(stored: str | None) -> bool:
        return bool(stored) and stored.startswith(PREFIX)  # type: ignore[union-attr]
