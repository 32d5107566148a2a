"""record(): build one audit row, chain it to the last one and insert it, in the caller's transaction.

Building the row (who, what, masking, names) never raises: a caller must not fail because some
value would not format. Writing it does raise: the action and its audit row commit together or
not at all, so an action that cannot be audited does not happen silently.
"""

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from panel.audit import chain, context
from panel.audit.mask import clean_mapping, text
from panel.audit.target import Target, cluster_name, job_id, related_names, site_slug

if TYPE_CHECKING:
    from panel.models import AuditEvent

log = logging.getLogger("panel.audit")
SYSTEM = "system"


def _actor(actor: Any, request: Any) -> tuple[int | None, str, str]:
    """(user key, username, role). Default: the request's user; without a request, the panel user a
    command acts as (`--as`, panel/cli.py), else whoever runs `manage.py` (cli:<unix user>), else
    the system (workers, beat)."""
    if actor is None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
        elif request is not None:
            return None, "anonymous", ""
        else:
            actor = context.acting_user() or (
                context.cli_actor() if Path(sys.argv[0]).name == "manage.py" else SYSTEM
            )
    if isinstance(actor, str):
        role = SYSTEM if actor == SYSTEM else "cli" if actor.startswith("cli:") else ""
        return None, text(actor, 150), role
    from panel.roles import role_of

    pk = getattr(actor, "pk", None)
    return (int(pk) if pk is not None else None), text(actor.get_username(), 150), role_of(actor) or ""


def build(
    action: str,
    *,
    request: Any,
    actor: Any,
    target: Any,
    before: Any,
    after: Any,
    job: Any,
    site: Any,
    cluster: Any,
    detail: Any,
    request_id: str | None,
    client_address: str | None,
) -> dict[str, Any]:
    """The row's content, without time and chain (those are set under the chain lock)."""
    request = request if request is not None else context.current_request()
    user_id, username, role = _actor(actor, request)
    aim = Target.of(target)
    job_site, job_cluster = related_names(job) if job is not None and not isinstance(job, int) else ("", "")
    _, site_cluster = related_names(site) if site is not None and not isinstance(site, str) else ("", "")
    return {
        "actor_user_id": user_id,
        "actor_username": username,
        "actor_role": text(role, 20),
        "action": text(action, 80),
        "target_type": aim.type,
        "target_id": aim.id,
        "target_name": aim.name,
        "before": clean_mapping(before),
        "after": clean_mapping(after),
        "request_id": text(request_id if request_id is not None else context.request_id_of(request), 64),
        "client_address": text(
            client_address if client_address is not None else context.client_address_of(request), 64
        ),
        "job_id": job_id(job),
        "site_slug": site_slug(site) or aim.site or job_site,
        "cluster_name": cluster_name(cluster) or aim.cluster or site_cluster or job_cluster,
        "detail": text(detail or "", 8000),
    }


def _fallback(action: Any, actor: Any) -> dict[str, Any]:
    """What is left when building the row failed: still an event, never an exception."""
    from panel.models import AuditEvent

    content = set(chain.HASHED_FIELDS) - {"time", "prev_hash"}  # what build() fills
    blank = {f.name: None if f.null else "" for f in AuditEvent._meta.concrete_fields if f.name in content}
    return {
        **blank,
        "actor_username": text(actor if isinstance(actor, str) else "unknown", 150),
        "action": text(action, 80),
        "detail": "the event's details could not be formatted (see the panel's log)",
    }


def record(
    action: str,
    *,
    request: Any = None,
    actor: Any = None,
    target: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    job: Any = None,
    site: Any = None,
    cluster: Any = None,
    detail: str = "",
    request_id: str | None = None,
    client_address: str | None = None,
) -> "AuditEvent":
    """Record one event and return it. See panel/audit/__init__.py for the arguments."""
    from panel.models import AuditEvent

    try:
        row = build(
            action,
            request=request,
            actor=actor,
            target=target,
            before=before,
            after=after,
            job=job,
            site=site,
            cluster=cluster,
            detail=detail,
            request_id=request_id,
            client_address=client_address,
        )
    except Exception:
        log.exception("audit: could not format the event %r; recording it without details", action)
        row = _fallback(action, actor)
    with transaction.atomic():
        chain.lock_chain()
        row["time"] = timezone.now()
        row["prev_hash"] = chain.last_hash()
        chain.seal(row)
        return AuditEvent.objects.create(**row)
