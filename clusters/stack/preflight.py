"""Preflight: the checklist a site must pass before it is deployed, item by item.

Each check reads service *summaries*, so the same code judges the rendered stack (true by construction unless
the spec itself is the problem, e.g. no domain or no digest) and, when given, the live services. Hard failures
block a deploy (a database without its constraint, a domain missing from the rule, an image that cannot be
resolved, and the other items that lose data or sessions); soft ones are shown with their fix. The checks
live in checks_odoo.py, checks_routing.py and checks_swarm.py; the list below is their order on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from clusters.stack import checks_odoo, checks_routing, checks_swarm
from clusters.stack.checks_common import Check, MissingService, Services, Severity
from clusters.stack.render import render
from clusters.stack.spec import SiteSpec


@dataclass(frozen=True)
class CheckResult:
    key: str
    title: str
    ok: bool
    severity: Severity
    reason: str
    fix: str
    source: str = "rendered"  # "rendered" or "live"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# key, title, severity, fix, check, spec_only
CHECKS: list[tuple[str, str, Severity, str, Check, bool]] = [
    (
        "image_digest",
        "Image pinned by digest",
        "hard",
        "Resolve the tag at the registry (check credentials) and deploy by digest; nodes otherwise "
        "fall back to whatever image they cached under the tag.",
        checks_odoo.image_digest,
        False,
    ),
    (
        "sessions_shared",
        "Sessions shared between replicas",
        "hard",
        "Redeploy: the panel loads the site's session store server-wide with its settings (session_redis "
        "with the site's Redis, session_db with the site's database).",
        checks_odoo.sessions_shared,
        False,
    ),
    (
        "session_store_series",
        "The session store exists for this series",
        "soft",
        "On Odoo 19 use session_db (the default for 19); keep session_redis only if your image carries a "
        "19 port of it (the deploy checks the image).",
        checks_odoo.session_store_series,
        True,
    ),
    (
        "sticky_cookie",
        "Sticky cookie with safe flags",
        "soft",
        "Redeploy: the panel sets sticky.cookie with name, httponly, samesite and secure (with TLS); "
        "never lbswarm.",
        checks_routing.sticky_cookie,
        False,
    ),
    (
        "filestore_shared",
        "Filestore shared by every replica",
        "hard",
        "Use an NFS export (server and path) for production; a bind path is only for the single-disk lab.",
        checks_odoo.filestore_shared,
        False,
    ),
    (
        "db_pinned",
        "Database pinned to its node",
        "hard",
        "Redeploy to restore node.hostname==<db node>; never move the database without moving its data.",
        checks_swarm.db_pinned,
        False,
    ),
    (
        "domains_valid",
        "Domains valid",
        "hard",
        "Give the site at least one lower-case host name such as shop.example.com (no wildcards).",
        checks_routing.domains_valid,
        False,
    ),
    (
        "domains_in_rule",
        "Every domain in the router rule",
        "hard",
        "Reconcile the site: the rule is rebuilt from its domains (a missing domain is a silent 404).",
        checks_routing.domains_in_rule,
        False,
    ),
    (
        "traefik_labels",
        "Traefik labels on the service",
        "hard",
        "Reconcile the site: port 8069 is mandatory on Swarm, and the network label prefix follows "
        "the version.",
        checks_routing.traefik_labels,
        False,
    ),
    (
        "traefik_network",
        "Shares a network with Traefik",
        "soft",
        "Set the cluster's Traefik overlay network on the site so the replicas join it.",
        checks_routing.traefik_network,
        False,
    ),
    (
        "update_safety",
        "Start-first updates with rollback",
        "soft",
        "Redeploy: update order start-first, failure action rollback, one task at a time.",
        checks_swarm.update_safety,
        False,
    ),
    (
        "healthcheck",
        "Healthcheck on /web/health",
        "soft",
        "Redeploy with the healthcheck; it gates traffic during updates. Give it a long start period.",
        checks_odoo.healthcheck,
        False,
    ),
    (
        "restart_policy",
        "Restart policy set",
        "soft",
        "Redeploy: the SDK's default restart condition is none.",
        checks_swarm.restart_policy,
        False,
    ),
    (
        "crons_single",
        "Crons on exactly one replica",
        "hard",
        "Redeploy: web replicas get --max-cron-threads=0 and one cron service runs them.",
        checks_odoo.crons_single,
        False,
    ),
    (
        "labels",
        "Site and role labels everywhere",
        "hard",
        "Reconcile the site so the panel can find every object again.",
        checks_swarm.labels,
        False,
    ),
    (
        "websocket_route",
        "/websocket routed to 8072 when workers > 0",
        "soft",
        "Reconcile the site: with workers the bus is served by the gevent port 8072.",
        checks_routing.websocket_route,
        False,
    ),
    (
        "endpoint_mode",
        "Endpoint mode fits the cluster",
        "hard",
        "In the lab use endpoint mode dnsrr (no IPVS in its kernel).",
        checks_swarm.endpoint_mode,
        False,
    ),
]


def _run(spec: SiteSpec, services: Services, source: str, err: str | None) -> list[CheckResult]:
    results = []
    for key, title, severity, fix, check, spec_only in CHECKS:
        if spec_only and source != "rendered":
            continue
        try:
            ok, reason = check(spec, services, err)
        except MissingService as exc:
            ok, reason = False, str(exc)
        results.append(CheckResult(key, title, ok, severity, reason, fix, source))
    return results


def preflight(
    spec: SiteSpec, live: Mapping[str, Any] | None = None, *, digest_resolution_error: str | None = None
) -> list[CheckResult]:
    """Checklist results on the rendered stack, then (when `live` service summaries are given, as from
    drift.live_stack_summary or `{name: summary}`) the same checks on the live services (source='live')."""
    results = _run(spec, render(spec).summary()["services"], "rendered", digest_resolution_error)
    if live is not None:
        results += _run(spec, live.get("services", live), "live", None)
    return results


@dataclass(frozen=True)
class CheckRow:
    """One checklist item with its result on the rendered stack and on the live services side by
    side (either may be absent: some items are judged on one of them only)."""

    key: str
    title: str
    severity: Severity
    rendered: CheckResult | None
    live: CheckResult | None

    @property
    def results(self) -> list[CheckResult]:
        return [r for r in (self.rendered, self.live) if r is not None]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ok]


def side_by_side(results: list[CheckResult]) -> list[CheckRow]:
    """A row per item, hard failures first, then advice not followed, then what passes; the
    checklist's own order within each group."""
    by_key: dict[str, dict[str, CheckResult]] = {}
    for result in results:
        by_key.setdefault(result.key, {})[result.source] = result
    rows = [
        CheckRow(key, first.title, first.severity, pair.get("rendered"), pair.get("live"))
        for key, pair in by_key.items()
        for first in [next(iter(pair.values()))]
    ]
    return sorted(rows, key=lambda row: 2 if row.ok else 0 if row.severity == "hard" else 1)


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    """The hard failures: a deploy must not start while this is not empty."""
    return [r for r in results if not r.ok and r.severity == "hard"]
