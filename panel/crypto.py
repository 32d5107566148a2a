"""Secrets at rest: a model field that stores Fernet tokens and never shows its value in repr.

The key comes from PANEL_ENCRYPTION_KEY. Any string is accepted and stretched to a Fernet key
with SHA-256, so an operator can paste a Fernet key or a long random phrase.
"""

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

MASK = "••••••"


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def encrypt(value: str) -> str:
    return _fernet(settings.ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "a stored secret cannot be decrypted: PANEL_ENCRYPTION_KEY differs from the key it was saved with"
        ) from exc


class Secret(str):
    """A decrypted value whose repr and str in logs stay masked; use .reveal() to get it."""

    def __repr__(self) -> str:
        return f"Secret({MASK})" if self else "Secret('')"

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
