"""The webhook signature, for the sender and for receivers (README "Notifications").

    X-Panel-Timestamp: 1767225600
    X-Panel-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the channel's secret>

A receiver recomputes the HMAC over the raw bytes it got, compares in constant time, and rejects a
timestamp more than 5 minutes from its clock: a captured request cannot be replayed later.
"""

import hashlib
import hmac
import time

TOLERANCE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_S,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)
