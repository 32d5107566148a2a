"""Secrets at rest: a model field that stores Fernet tokens, and a Secret that never shows its value.

The key comes from PANEL_ENCRYPTION_KEY, a long random string (or a Fernet key: any text is taken as
a passphrase). It is stretched to a Fernet key with scrypt (a fixed salt: the key, not the salt, is
the secret; scrypt's cost makes guessing a weak passphrase slow). Until this change a bare SHA-256 of
the string was the key: tokens made that way still decrypt, and `manage.py encryption reencrypt`
moves them to the scrypt key.

Rotation: set the new PANEL_ENCRYPTION_KEY and the previous ones in PANEL_ENCRYPTION_KEY_OLD
(comma-separated); values saved under any of them decrypt, new values are encrypted with the current
key only. `manage.py encryption reencrypt` then rewrites every stored value with the current key,
after which the old keys can be dropped.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any, NoReturn

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "••••••"
_SALT = b"odoo-swarm-panel PANEL_ENCRYPTION_KEY v2"
_SCRYPT_N = 2**15  # 32 MiB and about 0.1 s, once per key per process (cached)


@lru_cache(maxsize=16)
def stretch(secret: str, salt: bytes) -> bytes:
    """32 bytes from a passphrase, by scrypt. Each use of a key passes its own salt, so one passphrase
    gives unrelated keys to each (the audit chain's key is never the encryption key's bytes)."""
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(secret.encode())


@lru_cache(maxsize=8)
def _derived(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(stretch(key, _SALT)))


@lru_cache(maxsize=8)
def _legacy(key: str) -> Fernet:
    """How the key was stretched before: a bare SHA-256, kept only to read what was saved then."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


@lru_cache(maxsize=4)
def _keyring(key: str, old: tuple[str, ...]) -> MultiFernet:
    """Encrypts with the current key; decrypts with it, then with each old key, each derived both ways."""
    return MultiFernet([f for k in (key, *old) for f in (_derived(k), _legacy(k))])


def _keys() -> MultiFernet:
    return _keyring(settings.ENCRYPTION_KEY, tuple(getattr(settings, "ENCRYPTION_KEY_OLD", ())))


def encrypt(value: str) -> str:
    return _keys().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "a stored secret cannot be decrypted: PANEL_ENCRYPTION_KEY differs from the key it was saved "
            "with (give that key in PANEL_ENCRYPTION_KEY_OLD while it is being replaced)"
        ) from exc


def is_current(token: str) -> bool:
    """Whether a stored token is encrypted with the current key, as it is derived now."""
    try:
        _derived(settings.ENCRYPTION_KEY).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """The same value encrypted with the current key; InvalidToken when no key opens it."""
    return _keys().rotate(token.encode()).decode()


class Secret(str):
    """A decrypted value that shows only a mask to repr(), str(), format(), f-strings and %s, and
    refuses `+`: a log line, a page or an error message cannot print it by accident. `.reveal()` (or
    panel.crypto.reveal()) is the way to the plain text, where it is really needed."""

    def __repr__(self) -> str:
        return f"Secret({MASK})" if self else "Secret('')"

    def __str__(self) -> str:
        return MASK if self else ""

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __add__(self, other: str) -> NoReturn:
        raise TypeError("a Secret is not concatenated: call .reveal() where the plain text is needed")

    def __radd__(self, other: str) -> NoReturn:
        raise TypeError("a Secret is not concatenated: call .reveal() where the plain text is needed")

    def reveal(self) -> str:
        return str.__str__(self)


def reveal(value: object) -> str:
    """The plain text of a stored secret (a Secret, a plain str just assigned, or None)."""
    if not value:
        return ""
    return value.reveal() if isinstance(value, Secret) else str(value)


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext in the database; Python code sees a Secret."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Secret | None:
        if value is None:
            return None
        return Secret(decrypt(value) if value else "")

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value: Any) -> Any:
        if value is None or value == "":
            return value
        return encrypt(str.__str__(value))

    def value_to_string(self, obj: Any) -> str:
        """The plain text, as serializers (dumpdata, loaddata) have always exchanged it."""
        return reveal(self.value_from_object(obj))
