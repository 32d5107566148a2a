"""Passwords as Odoo keeps them (res.users, passlib's CryptContext): `$pbkdf2-sha512$rounds$salt$hash`
with passlib's adapted base64, verified at whatever rounds the hash names. A plain value still
compares as plain (passlib's `plaintext` scheme, which Odoo keeps for old rows)."""

import base64
import hashlib
import hmac
import os

PREFIX = "$pbkdf2-sha512$"
# Odoo uses 600 000 rounds; the stand-in's own base data uses few, so its logins stay fast.
STANDIN_ROUNDS = 1000


def _ab64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def _ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, rounds: int = STANDIN_ROUNDS) -> str:
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"{PREFIX}{rounds}${_ab64_encode(salt)}${_ab64_encode(key)}"


def verify(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    if not stored.startswith(PREFIX):
        return hmac.compare_digest(stored.encode(), password.encode())
    try:
        rounds, salt, key = stored.removeprefix(PREFIX).split("$")
        expected = _ab64_decode(key)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode(), _ab64_decode(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)
