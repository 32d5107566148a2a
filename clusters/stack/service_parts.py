"""The pieces every rendered service is built from: the panel's labels, the endpoint mode, the filestore
mount, Odoo's environment, arguments and healthcheck, the update settings, and the service builder itself.

The site's long-running services (render.py) and its one-off tasks (one_off.py) are assembled from these,
so a task runs with exactly the environment, mounts and options of the replicas it stands in for.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from docker.types import (
    DriverConfig,
    EndpointSpec,
    Healthcheck,
    Mount,
    RestartPolicy,
    RollbackConfig,
    ServiceMode,
    UpdateConfig,
)

from clusters.stack.host_access import refuse_host_reach
from clusters.stack.secrets import DB_PASSWORD, DB_PASSWORD_FILE, REDIS_CONF, SecretFile, site_secret
from clusters.stack.service_spec import ServiceSpec
from clusters.stack.spec import ODOO_HTTP_PORT, PG_PORT, REDIS_PORT, BindFilestore, SiteSpec, ns

PG_DATA = "/var/lib/postgresql/data"


def panel_labels(spec: SiteSpec, role: str) -> dict[str, str]:
    """Every object names its site and role so the panel can find and reconcile it."""
    return {"panel.managed": "true", "panel.site": spec.slug, "panel.role": role}


def endpoint(spec: SiteSpec) -> EndpointSpec:
    """dnsrr in the lab (its kernel has no IPVS, which vip needs), vip in production. A service name
    resolves through Swarm DNS either way (to the task IPs under dnsrr)."""
    return EndpointSpec(mode="dnsrr" if spec.cluster_mode == "lab" else "vip")


def filestore_mount(spec: SiteSpec) -> Mount:
    fs = spec.filestore
    if isinstance(fs, BindFilestore):
        return Mount(target=spec.data_dir, source=fs.path, type="bind")
    opts = fs.volume_options
    # The volume name carries a hash of its options: Docker never updates an existing local volume, so a
    # changed server/export would otherwise keep mounting the old one on nodes that already have it.
    digest = hashlib.sha256(repr(sorted(opts.items())).encode()).hexdigest()[:8]
    return Mount(
        target=spec.data_dir,
        source=f"{spec.slug}_filestore_{digest}",
        type="volume",
        driver_config=DriverConfig("local", opts),
        labels=panel_labels(spec, "filestore"),
    )


def odoo_env(spec: SiteSpec) -> dict[str, str]:
    """HOST/PORT/USER and PASSWORD_FILE are read by the official image's entrypoint (the password
    from the db_password secret file: clusters/stack/secrets.py). The session store's: session_env."""
    env = {
        "HOST": spec.service_name("db"),
        "PORT": str(PG_PORT),
        "USER": spec.db_user,
        "PASSWORD_FILE": DB_PASSWORD_FILE,
        **session_env(spec),
    }
    env.update(spec.extra_env)
    return env


def db_password_secret(spec: SiteSpec) -> SecretFile:
    return site_secret(spec.slug, DB_PASSWORD, spec.db_password)


def redis_conf_secret(spec: SiteSpec) -> SecretFile:
    return site_secret(spec.slug, REDIS_CONF, f"requirepass {spec.redis_password}\n")


def odoo_process(spec: SiteSpec) -> dict[str, Any]:
    """What every Odoo process of the site runs with, replicas and one-off tasks alike: the pinned image,
    the environment, the filestore and the database password's secret."""
    return {
        "image": spec.odoo_image_ref,
        "env": odoo_env(spec),
        "mounts": [filestore_mount(spec)],
        "secret_files": [db_password_secret(spec)],
    }


def session_env(spec: SiteSpec) -> dict[str, str]:
    """What the site's session store reads from the environment.

    session_redis (camptocamp) reads its password from ODOO_SESSION_REDIS_PASSWORD only: it has no
    file variant, nor has the official image's entrypoint one for it, so that one password stays in
    the environment of the site's Odoo services (and only theirs). OCA's session_db hands
    SESSION_DB_URI to Odoo's own `db_connect(uri, allow_uri=True)`, which takes a plain database name
    as well as a URI and connects to a name with Odoo's --db_* settings (the entrypoint's, from
    PASSWORD_FILE): so the site's database name, and no password, in the environment."""
    if spec.sessions == "session_redis":
        return {
            "ODOO_SESSION_REDIS": "1",
            "ODOO_SESSION_REDIS_HOST": spec.service_name("redis"),
            "ODOO_SESSION_REDIS_PORT": str(REDIS_PORT),
            "ODOO_SESSION_REDIS_PREFIX": spec.slug,
            "ODOO_SESSION_REDIS_PASSWORD": spec.redis_password,
        }
    return {"SESSION_DB_URI": spec.db_name}


def odoo_common_args(spec: SiteSpec) -> list[str]:
    args = [f"--load={','.join(spec.server_wide)}", f"--data-dir={spec.data_dir}"]
    if spec.addons_path:
        args.append(f"--addons-path={','.join(spec.addons_path)}")
    return args


def db_filter(spec: SiteSpec) -> str:
    return f"--db-filter=^{re.escape(spec.db_name)}$"


def health_timing(spec: SiteSpec) -> tuple[int, int, int | None]:
    """(interval, retries, start interval) in seconds as rendered.

    Swarm reports a task that has a healthcheck `starting` until its first check passes, and Traefik's
    Swarm provider routes only running tasks: after every start (a module update, a scale, a node lost)
    users get the maintenance page until that first check, which runs one interval after the start. So
    the start is checked every `health_start_interval_s`: with StartInterval where every node's engine
    has it (25.0+), else by shortening the interval itself, with the retries raised so that a running
    Odoo is still declared unhealthy only after as long as the spec says (interval x retries)."""
    if spec.engine_start_interval or spec.health_interval_s <= spec.health_start_interval_s:
        start = spec.health_start_interval_s if spec.engine_start_interval else None
        return spec.health_interval_s, spec.health_retries, start
    interval = spec.health_start_interval_s
    retries = -(-spec.health_interval_s * spec.health_retries // interval)
    return interval, retries, None


def odoo_healthcheck(spec: SiteSpec) -> Healthcheck:
    url = f"http://localhost:{ODOO_HTTP_PORT}/web/health" + (
        "?db_server_status=1" if spec.health_check_db else ""
    )
    test = list(spec.health_cmd) if spec.health_cmd else ["CMD", "curl", "-fsS", url]
    interval, retries, start_interval = health_timing(spec)
    check = Healthcheck(
        test=test,
        interval=ns(interval),
        timeout=ns(spec.health_timeout_s),
        retries=retries,
        start_period=ns(spec.health_start_period_s),
    )
    if start_interval is not None:  # docker-py 7.2 has no keyword for it; the API field is StartInterval
        check["StartInterval"] = ns(start_interval)
    return check


def update_configs(spec: SiteSpec, order: str) -> tuple[UpdateConfig, RollbackConfig]:
    """docker-py's defaults are parallelism=0 (every task at once) and failure_action=continue: both are
    always set. A rollback's own failure action may only be pause or continue."""
    common = {
        "parallelism": 1,
        "delay": ns(spec.update_delay_s),
        "monitor": ns(spec.update_monitor_s),
        "max_failure_ratio": 0,
        "order": order,
    }
    return (
        UpdateConfig(failure_action="rollback", **common),  # type: ignore[arg-type]
        RollbackConfig(failure_action="pause", **common),
    )  # type: ignore[arg-type]


def service(spec: SiteSpec, role: str, **kw: Any) -> ServiceSpec:
    """A service of the site labelled with its role, on the site's network with the cluster's endpoint mode
    unless `kw` says otherwise; `extra_labels` are the service labels beyond the panel's own.

    Every ServiceSpec the panel renders, long-running or one-off, is built here, so this is where the host
    rule is applied: a service (or a site) that could reach its node's host raises SpecError."""
    name = kw.pop("name", spec.service_name(role))
    labels = {**panel_labels(spec, role), **kw.pop("extra_labels", {"traefik.enable": "false"})}
    kw.setdefault("networks", [spec.network_name])
    kw.setdefault("endpoint_spec", endpoint(spec))
    built = ServiceSpec(name=name, role=role, labels=labels, container_labels=panel_labels(spec, role), **kw)
    return refuse_host_reach(spec, built)


def db_node_constraint(spec: SiteSpec) -> str:
    """What keeps a service on the node that holds the database's data."""
    return f"node.hostname=={spec.db_node}"


def volume(spec: SiteSpec, what: str, source: str, target: str) -> Mount:
    """A named volume labelled as the site's `what`: created on first use by the node that runs the task."""
    return Mount(target=target, source=source, type="volume", labels=panel_labels(spec, what))


def pinned_next_to_data(spec: SiteSpec, role: str, data_dir: str, **kw: Any) -> ServiceSpec:
    """One replica of a server keeping its data in the volume `<slug>_<role>_data`, pinned to the database's
    node, always restarted, updated stop-first (two servers on one data directory corrupt it)."""
    upd, rb = update_configs(spec, "stop-first")
    return service(
        spec,
        role,
        mounts=[volume(spec, f"{role}-data", f"{spec.slug}_{role}_data", data_dir)],
        mode=ServiceMode("replicated", replicas=1),
        constraints=[db_node_constraint(spec)],
        restart_policy=RestartPolicy(condition="any", delay=ns(5)),
        update_config=upd,
        rollback_config=rb,
        **kw,
    )
