"""Turn whatever a caller hands to record() into plain, secret-free JSON that survives a round trip.

Three jobs, each for a reason:
- Secrets never reach the log: a value under any key that names a secret is masked, and so is a
  PEM private key or a `Secret` wherever it appears.
- The hash must be recomputable from what the database gives back. jsonb normalises numbers and
  refuses NUL characters, so only values that read back identically are kept (see `_number`).
- A formatting problem never raises into the caller: anything unknown becomes its str(), and a
  str() that raises becomes a placeholder.
"""

import datetime
import decimal
import math
import re
import uuid
from typing import Any

from panel.crypto import MASK, Secret

# tls_ca and tls_cert name no secret word but hold the cluster's stored (encrypted) PEMs; a URI
# (SESSION_DB_URI, say) may carry a password.
SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "key",
    "token",
    "tls_key",
    "tls_ca",
    "tls_cert",
    "credential",
    "_uri",
)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)
MAX_STRING = 4000
MAX_DEPTH = 8
MAX_ITEMS = 500


def is_secret_key(key: str) -> bool:
    """Whether a value under this key (a field, a setting, an environment variable) may be a secret: the
    audit log masks it, and the stack's service summaries redact it."""
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def text(value: Any, limit: int = MAX_STRING) -> str:
    """A str that PostgreSQL and the UTF-8 encoder accept, with private keys masked, bounded."""
    try:
        if isinstance(value, Secret):
            return MASK if value else ""
        string = value if isinstance(value, str) else str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
    string = string.replace("\x00", "")
    if "PRIVATE KEY-----" in string:
        string = _PRIVATE_KEY.sub(MASK, string)
    string = string.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    if len(string) > limit:
        string = string[: limit - 1] + "…"
    return string


def _number(value: float) -> float | str | None:
    # jsonb reads 1e+16 back as the integer 10000000000000000: its JSON would differ from ours and
    # the hash would no longer match. Such floats, NaN and infinities are kept as text.
    if not math.isfinite(value) or abs(value) >= 1e15:
        return str(value)
    return value


def clean(value: Any, depth: int = 0) -> Any:
    """JSON-native copy of `value` with secrets masked; never raises."""
    try:
        return _clean(value, depth)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _clean(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Secret):
        return MASK if value else ""
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return text(value)
    if depth >= MAX_DEPTH:
        return text(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more"
                break
            name = text(key, 200)
            out[name] = MASK if is_secret_key(name) and item not in (None, "") else clean(item, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        cleaned = [clean(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            cleaned.append(f"… {len(items) - MAX_ITEMS} more")
        return cleaned
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return text(value)


def clean_mapping(value: Any) -> dict[str, Any] | None:
    """before/after: a dict (or None); anything else is wrapped so the column stays an object."""
    if value is None:
        return None
    cleaned = clean(value)
    return cleaned if isinstance(cleaned, dict) else {"value": cleaned}
