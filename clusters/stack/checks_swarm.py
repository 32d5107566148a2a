"""Preflight checks on the Swarm settings of the site's services: the database pinned to its node, safe
updates, restart policies, the panel's labels, and an endpoint mode the cluster supports."""

from __future__ import annotations

from clusters.stack.checks_common import Outcome, Services, service
from clusters.stack.names import ROLES
from clusters.stack.service_parts import PG_DATA, db_node_constraint, panel_labels
from clusters.stack.spec import SiteSpec


def db_pinned(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = service(spec, s, "db")
    pin = db_node_constraint(spec)
    if pin not in svc["constraints"]:
        return False, f"{svc['name']} lacks constraint {pin}: Swarm may move it away from its data"
    if not any(m["target"] == PG_DATA and m["type"] == "volume" for m in svc["mounts"]):
        return False, f"{svc['name']} keeps no data volume at {PG_DATA}"
    if svc["replicas"] != 1:
        return False, f"{svc['name']} has {svc['replicas']} replicas, not 1"
    if (svc["update_config"] or {}).get("order") == "start-first":
        return False, f"{svc['name']} updates start-first: two PostgreSQL servers on one data directory"
    return True, f"{svc['name']} pinned with {pin}, one replica, stop-first"


def update_safety(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = service(spec, s, "odoo")
    cfg = svc["update_config"] or {}
    if cfg.get("order") != "start-first" or cfg.get("failure_action") != "rollback":
        return False, f"{svc['name']} updates {cfg.get('order')}, on failure {cfg.get('failure_action')}"
    if cfg.get("parallelism", 0) < 1 or cfg.get("monitor_ns", 0) <= 0:
        return False, f"{svc['name']} updates all tasks at once or without a monitor period"
    return True, f"start-first, rollback on failure, {cfg['parallelism']} at a time"


def restart_policy(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    for role in ("odoo", "cron", "db", "redis"):
        svc = service(spec, s, role)
        if svc["restart_condition"] != "any":
            return False, (
                f"{svc['name']} restarts on {svc['restart_condition']}: Odoo exits 0 when Swarm stops it, "
                "so a stopped replica would never be replaced"
                if svc["restart_condition"] == "on-failure"
                else f"{svc['name']} is never restarted (restart condition none, the SDK default)"
            )
    return True, "every service restarts whatever its exit code"


def labels(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    for role in ROLES:
        svc = service(spec, s, role)
        want = panel_labels(spec, role)
        for scope in ("labels", "container_labels"):
            bad = [k for k, v in want.items() if svc[scope].get(k) != v]
            if bad:
                return False, f"{svc['name']} {scope.replace('_', ' ')} lack {', '.join(bad)}"
    return True, "site and role labels on every service and container"


def endpoint_mode(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    if spec.cluster_mode != "lab":
        return True, "production: the routing mesh is available"
    for role in ROLES:
        svc = service(spec, s, role)
        if svc["endpoint_mode"] != "dnsrr":
            return (
                False,
                f"{svc['name']} uses endpoint mode {svc['endpoint_mode']}: no IPVS in the lab kernel",
            )
    return True, "lab: every service uses dnsrr"
