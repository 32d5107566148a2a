"""Preflight checks on what the Odoo replicas need: the pinned image, shared sessions, a session store that
exists for the series, a shared filestore, a healthcheck, and crons on one replica only."""

from __future__ import annotations

from clusters.stack.checks_common import Outcome, Services, arg, service
from clusters.stack.service_parts import session_env
from clusters.stack.spec import SiteSpec
from clusters.stack.summary import REDACTED, is_secret_key


def image_digest(spec: SiteSpec, s: Services, err: str | None) -> Outcome:
    if err:
        return False, f"image {spec.image} could not be resolved to a digest: {err}"
    if not spec.image_digest:
        return False, f"image {spec.image} has no pinned digest yet"
    for role in ("odoo", "cron"):
        svc = service(spec, s, role)
        if svc["image_digest"] != spec.image_digest:
            return False, f"{svc['name']} runs {svc['image']}, not the pinned {spec.image_digest}"
    return True, f"odoo and cron run {spec.odoo_image_ref}"


def sessions_shared(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    store = spec.sessions
    if store == "session_redis":
        service(spec, s, "redis")
    for role in ("odoo", "cron"):
        svc = service(spec, s, role)
        load = (arg(svc["args"], "--load") or "").split(",")
        if store not in load:
            return False, f"{svc['name']} does not load {store} server-wide (--load={','.join(load)})"
        for key, value in session_env(spec).items():
            # A summary redacts what may hold a password (the URI): there, being set is what shows.
            if svc["env"].get(key) not in (value, REDACTED if is_secret_key(key) else value):
                return False, f"{svc['name']} does not set {key} to the site's {store} settings"
    where = spec.service_name("redis") if store == "session_redis" else spec.service_name("db")
    return True, f"odoo and cron load {store} and share sessions in {where}"


def session_store_series(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    major = int(spec.series.split(".")[0])
    if spec.sessions == "session_redis" and major >= 19:
        return (
            False,
            f"no {spec.series} release of session_redis was found upstream (camptocamp stops at 18.0; its "
            "18.0 module answers 500 to every request on 19): only an image with a 19 port of its own works",
        )
    return True, f"{spec.sessions} has a {spec.series} release"


def filestore_shared(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    mounts = []
    for role in ("odoo", "cron"):
        svc = service(spec, s, role)
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


def healthcheck(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    for role in ("odoo", "cron"):
        svc = service(spec, s, role)
        hc = svc["healthcheck"]
        if not hc or hc["test"][:1] == ["NONE"]:
            return False, f"{svc['name']} has no healthcheck: traffic reaches tasks before Odoo is up"
        if hc["start_period_ns"] <= 0:
            return False, f"{svc['name']} healthcheck has no start period: a slow boot is killed"
    return True, "healthcheck on odoo and cron with a start period"


def crons_single(spec: SiteSpec, s: Services, _: str | None) -> Outcome:
    web, cron = service(spec, s, "odoo"), service(spec, s, "cron")
    if arg(web["args"], "--max-cron-threads") != "0":
        return False, f"{web['name']} runs crons on every replica (--max-cron-threads is not 0)"
    want = 1 if spec.replicas > 0 else 0
    if cron["replicas"] != want:
        return False, f"{cron['name']} has {cron['replicas']} replicas, expected {want}"
    if int(arg(cron["args"], "--max-cron-threads") or 0) < 1:
        return False, f"{cron['name']} has no cron threads"
    if (cron["update_config"] or {}).get("order") == "start-first":
        return False, f"{cron['name']} updates start-first: two cron runners overlap"
    return True, f"{cron['name']} alone runs crons; web replicas have --max-cron-threads=0"
