"""Preflight: the seed's survival checklist (and design.md's "What a site becomes on Swarm"), item by item.

Each check reads service *summaries*, so the same code judges the rendered stack (true by construction unless
the spec itself is the problem, e.g. no domain or no digest) and, when given, the live services. Hard failures
block a deploy (design.md / issue 5: a database without its constraint, a domain missing from the rule, an
image that cannot be resolved, and the other items that lose data or sessions); soft ones are shown
with their fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from clusters.stack.render import PG_DATA, render, session_env
from clusters.stack.spec import ODOO_GEVENT_PORT, ODOO_HTTP_PORT, SiteSpec, domain_problem
from clusters.stack.summary import REDACTED, is_secret_key
from clusters.stack.traefik import NETWORK_LABEL, WS_PATH, router_names

Severity = Literal["hard", "soft"]
Services = Mapping[str, Mapping[str, Any]]


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


class _Missing(Exception):
    pass


def _svc(spec: SiteSpec, services: Services, role: str) -> Mapping[str, Any]:
    name = spec.service_name(role)
    if name not in services:
        raise _Missing(f"service {name} is missing")
    return services[name]


def _arg(args: list[str], flag: str) -> str | None:
    """Value of `--flag=value` or `--flag value` (also `-d value`)."""
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None


Outcome = tuple[bool, str]


# --- the checks ---------------------------------------------------------------------------------------------
def _image(spec: SiteSpec, s: Services, err: str | None) -> Outcome:
    if err:
        return False, f"image {spec.image} could not be resolved to a digest: {err}"
    if not spec.image_digest:
        return False, f"image {spec.image} has no pinned digest yet"
    for role in ("odoo", "cron"):
        svc = _svc(spec, s, role)
        if svc["image_digest"] != spec.image_digest:
            return False, f"{svc['name']} runs {svc['image']}, not the pinned {spec.image_digest}"
    return True, f"odoo and cron run {spec.odoo_image_ref}"


def _sessions(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    store = spec.sessions
    if store == "session_redis":
        _svc(spec, s, "redis")
    for role in ("odoo", "cron"):
        svc = _svc(spec, s, role)
        load = (_arg(svc["args"], "--load") or "").split(",")
        if store not in load:
            return False, f"{svc['name']} does not load {store} server-wide (--load={','.join(load)})"
        for key, value in session_env(spec).items():
            # A summary redacts what may hold a password (the URI): there, being set is what shows.
            if svc["env"].get(key) not in (value, REDACTED if is_secret_key(key) else value):
                return False, f"{svc['name']} does not set {key} to the site's {store} settings"
    where = spec.service_name("redis") if store == "session_redis" else spec.service_name("db")
    return True, f"odoo and cron load {store} and share sessions in {where}"


def _session_series(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    major = int(spec.series.split(".")[0])
    if spec.sessions == "session_redis" and major >= 19:
        return (
            False,
            f"no {spec.series} release of session_redis was found upstream (camptocamp stops at 18.0; its "
            "18.0 module answers 500 to every request on 19): only an image with a 19 port of its own works",
        )
    return True, f"{spec.sessions} has a {spec.series} release"


def _sticky(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = _svc(spec, s, "odoo")
    t = svc["traefik"]
    if t["lbswarm"]:
        return False, f"{svc['name']} sets lbswarm: Traefik targets the VIP and sticky cookies have no effect"
    sticky = t["services"].get(router_names(spec.slug)[0], {}).get("sticky", {})
    want = {
        "enabled": "true",
        "name": spec.traefik.sticky_cookie,
        "httponly": "true",
        "samesite": spec.traefik.samesite,
        "secure": "true" if spec.traefik.tls else "false",
    }
    bad = [
        f"{k}={sticky.get(k)!r} (want {v})" for k, v in want.items() if str(sticky.get(k, "")).lower() != v
    ]
    if bad:
        return False, f"sticky cookie of {svc['name']}: " + ", ".join(bad)
    return True, f"cookie {spec.traefik.sticky_cookie}: httponly, samesite={spec.traefik.samesite}" + (
        ", secure" if spec.traefik.tls else ""
    )


def _filestore(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    mounts = []
    for role in ("odoo", "cron"):
        svc = _svc(spec, s, role)
        m = next((m for m in svc["mounts"] if m["target"] == spec.data_dir), None)
        if m is None:
            return (
                False,
                f"{svc['name']} has no mount at {spec.data_dir}: each replica keeps its own filestore",
            )
        mounts.append(m)
    m = mounts[0]
    if mounts[1] != m:
        return False, "odoo and cron mount different filestores"
    if m["type"] == "bind":
        if spec.cluster_mode != "lab":
            return (
                False,
                f"bind mount {m['source']} is only shared when every node sees the same disk (lab only)",
            )
        return True, f"lab: host folder {m['source']} bind-mounted on every replica"
    opts = m["driver_options"]
    if (
        m["type"] != "volume"
        or opts.get("type") != "nfs"
        or "addr=" not in opts.get("o", "")
        or not opts.get("device", "").startswith(":")
    ):
        return False, f"{m['type']} {m['source']} at {spec.data_dir} is local to each node, not NFS"
    return True, f"NFS {opts['o'].split(',')[0][5:]}{opts['device']} mounted on every replica via the service"


def _db(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = _svc(spec, s, "db")
    pin = f"node.hostname=={spec.db_node}"
    if pin not in svc["constraints"]:
        return False, f"{svc['name']} lacks constraint {pin}: Swarm may move it away from its data"
    if not any(m["target"] == PG_DATA and m["type"] == "volume" for m in svc["mounts"]):
        return False, f"{svc['name']} keeps no data volume at {PG_DATA}"
    if svc["replicas"] != 1:
        return False, f"{svc['name']} has {svc['replicas']} replicas, not 1"
    if (svc["update_config"] or {}).get("order") == "start-first":
        return False, f"{svc['name']} updates start-first: two PostgreSQL servers on one data directory"
    return True, f"{svc['name']} pinned with {pin}, one replica, stop-first"


def _web_domains(spec: SiteSpec, s: Services) -> list[str]:
    router = _svc(spec, s, "odoo")["traefik"]["routers"].get(router_names(spec.slug)[0])
    return list(router["domains"]) if router else []


def _domains_valid(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    if not spec.domains:
        return False, "the site has no domain"
    domains = _web_domains(spec, s)
    problems = [p for p in map(domain_problem, domains) if p]
    if problems:
        return False, "; ".join(problems)
    if len(set(domains)) != len(domains):
        return False, "a domain is listed twice in the rule"
    return True, f"{len(domains)} valid domain(s)"


def _domains_in_rule(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = _svc(spec, s, "odoo")
    if not svc["traefik"]["enabled"]:
        return False, f"Traefik is not enabled on {svc['name']}"
    domains = _web_domains(spec, s)
    missing = [d for d in spec.domains if d not in domains]
    if missing or not spec.domains:
        return False, f"missing from the router rule of {svc['name']}: {', '.join(missing) or '(no domain)'}"
    return True, f"one router names all of {', '.join(spec.domains)}"


def _traefik(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = _svc(spec, s, "odoo")
    t, web = svc["traefik"], router_names(spec.slug)[0]
    router = t["routers"].get(web)
    if not t["enabled"] or router is None:
        return False, f"no Traefik router {web} on {svc['name']}"
    port = t["services"].get(router["service"] or web, {}).get("port")
    if port != ODOO_HTTP_PORT:
        return False, f"router {web} has server port {port}, not {ODOO_HTTP_PORT} (mandatory on Swarm)"
    if spec.traefik.entrypoint not in router["entrypoints"]:
        return False, f"router {web} is not on entrypoint {spec.traefik.entrypoint}"
    if spec.traefik.tls and not router["tls"]:
        return False, f"router {web} does not serve TLS"
    if spec.traefik.tls and spec.traefik.certresolver and router["certresolver"] != spec.traefik.certresolver:
        return False, f"router {web} does not use cert resolver {spec.traefik.certresolver}"
    nets = t["network_labels"]
    want = NETWORK_LABEL[spec.traefik.version]
    if list(nets) != [want]:
        return (
            False,
            f"network label must be {want} alone for Traefik {spec.traefik.version}, found {list(nets)}",
        )
    if svc["networks"] is not None and nets[want] not in svc["networks"]:
        return False, f"{want}={nets[want]} names a network {svc['name']} is not attached to"
    return (
        True,
        f"router {web}: port {ODOO_HTTP_PORT}, entrypoint {spec.traefik.entrypoint}, {want}={nets[want]}",
    )


def _traefik_network(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    if not spec.traefik.network:
        return False, f"no Traefik network set: Traefik must be attached to {spec.network_name} by hand"
    svc = _svc(spec, s, "odoo")
    if svc["networks"] is not None and spec.traefik.network not in svc["networks"]:
        return False, f"{svc['name']} is not attached to Traefik's network {spec.traefik.network}"
    return True, f"{svc['name']} shares {spec.traefik.network} with Traefik"


def _update(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    svc = _svc(spec, s, "odoo")
    cfg = svc["update_config"] or {}
    if cfg.get("order") != "start-first" or cfg.get("failure_action") != "rollback":
        return False, f"{svc['name']} updates {cfg.get('order')}, on failure {cfg.get('failure_action')}"
    if cfg.get("parallelism", 0) < 1 or cfg.get("monitor_ns", 0) <= 0:
        return False, f"{svc['name']} updates all tasks at once or without a monitor period"
    return True, f"start-first, rollback on failure, {cfg['parallelism']} at a time"


def _health(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    for role in ("odoo", "cron"):
        svc = _svc(spec, s, role)
        hc = svc["healthcheck"]
        if not hc or hc["test"][:1] == ["NONE"]:
            return False, f"{svc['name']} has no healthcheck: traffic reaches tasks before Odoo is up"
        if hc["start_period_ns"] <= 0:
            return False, f"{svc['name']} healthcheck has no start period: a slow boot is killed"
    return True, "healthcheck on odoo and cron with a start period"


def _restart(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    for role in ("odoo", "cron", "db", "redis"):
        svc = _svc(spec, s, role)
        if svc["restart_condition"] == "none":
            return False, f"{svc['name']} is never restarted (restart condition none, the SDK default)"
    return True, "web on-failure, db and redis always"


def _crons(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    web, cron = _svc(spec, s, "odoo"), _svc(spec, s, "cron")
    if _arg(web["args"], "--max-cron-threads") != "0":
        return False, f"{web['name']} runs crons on every replica (--max-cron-threads is not 0)"
    want = 1 if spec.replicas > 0 else 0
    if cron["replicas"] != want:
        return False, f"{cron['name']} has {cron['replicas']} replicas, expected {want}"
    if int(_arg(cron["args"], "--max-cron-threads") or 0) < 1:
        return False, f"{cron['name']} has no cron threads"
    if (cron["update_config"] or {}).get("order") == "start-first":
        return False, f"{cron['name']} updates start-first: two cron runners overlap"
    return True, f"{cron['name']} alone runs crons; web replicas have --max-cron-threads=0"


def _labels(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    for role in ("db", "redis", "odoo", "cron"):
        svc = _svc(spec, s, role)
        want = {"panel.managed": "true", "panel.site": spec.slug, "panel.role": role}
        for scope in ("labels", "container_labels"):
            bad = [k for k, v in want.items() if svc[scope].get(k) != v]
            if bad:
                return False, f"{svc['name']} {scope.replace('_', ' ')} lack {', '.join(bad)}"
    return True, "site and role labels on every service and container"


def _websocket(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    t = _svc(spec, s, "odoo")["traefik"]
    ws = [(n, r) for n, r in t["routers"].items() if WS_PATH in r["path_prefixes"]]
    if spec.workers == 0:
        if ws:
            return False, f"router {ws[0][0]} sends /websocket to port 8072, but workers=0 serves it on 8069"
        return True, "workers=0: /websocket is served on 8069"
    if not ws:
        return False, f"workers={spec.workers} but no /websocket router: live chat and bus fail"
    name, r = ws[0]
    port = t["services"].get(r["service"] or name, {}).get("port")
    missing = [d for d in spec.domains if d not in r["domains"]]
    if port != ODOO_GEVENT_PORT or missing:
        return (
            False,
            f"router {name} goes to port {port} (want {ODOO_GEVENT_PORT}); missing domains: {missing}",
        )
    return True, f"router {name}: /websocket on every domain to port {ODOO_GEVENT_PORT}"


def _endpoint(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    if spec.cluster_mode != "lab":
        return True, "production: the routing mesh is available"
    for role in ("db", "redis", "odoo", "cron"):
        svc = _svc(spec, s, role)
        if svc["endpoint_mode"] != "dnsrr":
            return (
                False,
                f"{svc['name']} uses endpoint mode {svc['endpoint_mode']}: no IPVS in the lab kernel",
            )
    return True, "lab: every service uses dnsrr"


Check = Callable[[SiteSpec, Services, str | None], Outcome]
# key, title, severity, fix, check, spec_only
CHECKS: list[tuple[str, str, Severity, str, Check, bool]] = [
    (
        "image_digest",
        "Image pinned by digest",
        "hard",
        "Resolve the tag at the registry (check credentials) and deploy by digest; nodes otherwise "
        "fall back to whatever image they cached under the tag.",
        _image,
        False,
    ),
    (
        "sessions_shared",
        "Sessions shared between replicas",
        "hard",
        "Redeploy: the panel loads the site's session store server-wide with its settings (session_redis "
        "with the site's Redis, session_db with the site's database).",
        _sessions,
        False,
    ),
    (
        "session_store_series",
        "The session store exists for this series",
        "soft",
        "On Odoo 19 use session_db (the default for 19); keep session_redis only if your image carries a "
        "19 port of it (the deploy checks the image).",
        _session_series,
        True,
    ),
    (
        "sticky_cookie",
        "Sticky cookie with safe flags",
        "soft",
        "Redeploy: the panel sets sticky.cookie with name, httponly, samesite and secure (with TLS); "
        "never lbswarm.",
        _sticky,
        False,
    ),
    (
        "filestore_shared",
        "Filestore shared by every replica",
        "hard",
        "Use an NFS export (server and path) for production; a bind path is only for the single-disk lab.",
        _filestore,
        False,
    ),
    (
        "db_pinned",
        "Database pinned to its node",
        "hard",
        "Redeploy to restore node.hostname==<db node>; never move the database without moving its data.",
        _db,
        False,
    ),
    (
        "domains_valid",
        "Domains valid",
        "hard",
        "Give the site at least one lower-case host name such as shop.example.com (no wildcards).",
        _domains_valid,
        False,
    ),
    (
        "domains_in_rule",
        "Every domain in the router rule",
        "hard",
        "Reconcile the site: the rule is rebuilt from its domains (a missing domain is a silent 404).",
        _domains_in_rule,
        False,
    ),
    (
        "traefik_labels",
        "Traefik labels on the service",
        "hard",
        "Reconcile the site: port 8069 is mandatory on Swarm, and the network label prefix follows "
        "the version.",
        _traefik,
        False,
    ),
    (
        "traefik_network",
        "Shares a network with Traefik",
        "soft",
        "Set the cluster's Traefik overlay network on the site so the replicas join it.",
        _traefik_network,
        False,
    ),
    (
        "update_safety",
        "Start-first updates with rollback",
        "soft",
        "Redeploy: update order start-first, failure action rollback, one task at a time.",
        _update,
        False,
    ),
    (
        "healthcheck",
        "Healthcheck on /web/health",
        "soft",
        "Redeploy with the healthcheck; it gates traffic during updates. Give it a long start period.",
        _health,
        False,
    ),
    (
        "restart_policy",
        "Restart policy set",
        "soft",
        "Redeploy: the SDK's default restart condition is none.",
        _restart,
        False,
    ),
    (
        "crons_single",
        "Crons on exactly one replica",
        "hard",
        "Redeploy: web replicas get --max-cron-threads=0 and one cron service runs them.",
        _crons,
        False,
    ),
    (
        "labels",
        "Site and role labels everywhere",
        "hard",
        "Reconcile the site so the panel can find every object again.",
        _labels,
        False,
    ),
    (
        "websocket_route",
        "/websocket routed to 8072 when workers > 0",
        "soft",
        "Reconcile the site: with workers the bus is served by the gevent port 8072.",
        _websocket,
        False,
    ),
    (
        "endpoint_mode",
        "Endpoint mode fits the cluster",
        "hard",
        "In the lab use endpoint mode dnsrr (no IPVS in its kernel).",
        _endpoint,
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
        except _Missing as exc:
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
