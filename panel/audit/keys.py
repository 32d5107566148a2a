"""The key that seals the audit chain, kept out of the database so that rewriting rows there is not
enough to rewrite history: a new hash cannot be computed without it.

PANEL_AUDIT_KEY is stretched by scrypt as the encryption key is (panel.crypto.stretch) under a salt
of its own. Without it, a subkey of PANEL_ENCRYPTION_KEY under yet another salt: never the bytes that
encrypt secrets. Each row names its key by a short id (a hash of the derived key, which tells nothing
about it), so that after a rotation verify opens old rows with the key that sealed them: the keys in
PANEL_AUDIT_KEY_OLD, and the subkeys of the current and old encryption keys (rows sealed before
PANEL_AUDIT_KEY was set).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings

from panel.crypto import stretch

AUDIT_SALT = b"odoo-swarm-panel PANEL_AUDIT_KEY v1"
SUBKEY_SALT = b"odoo-swarm-panel audit chain subkey of PANEL_ENCRYPTION_KEY v1"


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes = field(repr=False)


@lru_cache(maxsize=16)
def derive(passphrase: str, salt: bytes) -> Key:
    secret = stretch(passphrase, salt)
    return Key(id=hashlib.sha256(secret).hexdigest()[:8], secret=secret)


def current() -> Key:
    """The key new events are sealed with."""
    if settings.AUDIT_KEY:
        return derive(settings.AUDIT_KEY, AUDIT_SALT)
    return derive(settings.ENCRYPTION_KEY, SUBKEY_SALT)


def _candidates() -> Iterator[Key]:
    """Every key an older row may have been sealed with, current first; derived only when reached."""
    yield current()
    for old in getattr(settings, "AUDIT_KEY_OLD", ()):
        yield derive(old, AUDIT_SALT)
    for encryption_key in (settings.ENCRYPTION_KEY, *getattr(settings, "ENCRYPTION_KEY_OLD", ())):
        yield derive(encryption_key, SUBKEY_SALT)


def find(key_id: str) -> Key | None:
    return next((key for key in _candidates() if key.id == key_id), None)
