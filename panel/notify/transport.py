"""Sending one delivery: a signed JSON POST, or an Apprise notification. Errors come back as
DeliveryError with a message that names neither the URL's credentials nor the secret."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from panel.crypto import reveal
from panel.notify.catalog import body, summary
from panel.notify.signing import sign

TIMEOUT = (3.0, 10.0)  # connect, read
USER_AGENT = "odoo-swarm-panel-notify/1"


class DeliveryError(Exception):
    pass


def send(channel: Any, doc: dict[str, Any], delivery_id: int) -> None:
    url, secret = reveal(channel.url), reveal(channel.secret)
    try:
        if channel.kind == "webhook":
            _webhook(url, secret, doc, delivery_id)
        else:
            _apprise(url, doc)
    except DeliveryError as exc:
        raise DeliveryError(redact(str(exc), url, secret)) from None
    except Exception as exc:
        raise DeliveryError(redact(f"{type(exc).__name__}: {exc}", url, secret)[:1000]) from None


def _webhook(url: str, secret: str, doc: dict[str, Any], delivery_id: int) -> None:
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Panel-Event": doc["event"],
        "X-Panel-Delivery": str(delivery_id),
        "X-Panel-Timestamp": timestamp,
        "X-Panel-Signature": sign(secret, timestamp, raw),
    }
    response = requests.post(url, data=raw, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code} {response.reason or ''}".strip())


def _apprise(url: str, doc: dict[str, Any]) -> None:
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise DeliveryError("Apprise does not understand this URL (check its scheme and parameters)")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = notifier.notify(title=summary(doc), body=body(doc))
    if not ok:
        said = " ".join(line.strip() for line in captured.getvalue().splitlines()[-3:])
        raise DeliveryError(f"Apprise could not deliver: {said or 'no reason given'}")


def redact(text: str, url: str, secret: str = "") -> str:
    """`text` without the URL, its user, password, path and query, or the secret."""
    parts = urlsplit(url)
    hidden = [url, secret, parts.password or "", parts.username or "", parts.query]
    if parts.path not in ("", "/"):
        hidden.append(parts.path)
    for value in sorted({v for h in hidden if h for v in (h, unquote(h))}, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "…")
    return text
