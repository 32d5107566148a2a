"""SiteSpec -> the site's network and its four long-running Swarm services.

What a site becomes, and why each setting:
- `<slug>_odoo`: N web replicas, `--max-cron-threads=0`, the site's session store loaded server-wide with
  its environment (session_redis with `<slug>_redis`, or session_db in the site's database), the filestore
  on the service's own mount (NFS options in production, a bind path in the lab), a healthcheck on
  /web/health with a long start period (Swarm routes no traffic to a task before it is healthy),
  start-first updates with rollback, restart on any exit (docker-py's default is `none`, and Odoo
  exits 0 on SIGTERM), the image pinned by
  digest, and the Traefik labels on the *service* (Traefik reads service labels on Swarm).
  No `-d` on web replicas: Odoo creates a `-d` database that does not exist, and N replicas starting
  together would race to create it; `--db-filter` pins them to the site's database instead.
- `<slug>_cron`: the one replica that runs crons (`-d` is safe there: one process), stop-first so that an
  update never runs two cron runners, even briefly.
- `<slug>_db`: PostgreSQL pinned with `node.hostname==` (left free, Swarm may start it on a node without
  its data), data in `<slug>_db_data` on that node, stop-first (two postgres on one data dir corrupt it),
  long stop grace period. POSTGRES_DB stays `postgres`: if it were the site's database, Odoo would find it
  existing and empty.
- `<slug>_redis`: sessions, append-only file on a volume, pinned next to the database so sessions survive a
  restart (the site cannot run without that node anyway); it requires the site's own password.
- No password in any service's environment or command line: the database's and Redis's are Swarm secret
  files (clusters/stack/secrets.py), but session_redis's copy, which it reads from the environment only.
- Endpoint mode dnsrr in the lab, vip in production (service_parts.endpoint).

The one-off tasks (module update, backup, restore, probes, queries) are rendered by one_off.py; the output
types by service_spec.py. Both are importable from here too.
"""

from __future__ import annotations

from typing import Any

from docker.types import Healthcheck, RestartPolicy, ServiceMode

from clusters.stack import traefik
from clusters.stack.backup_tasks import render_backup_task
from clusters.stack.names import ROLES
from clusters.stack.one_off import (
    backup_volume,
    render_image_task,
    render_probe_task,
    render_query_task,
    render_restore_task,
    render_update_task,
)
from clusters.stack.secrets import DB_PASSWORD_FILE, REDIS_CONF_FILE
from clusters.stack.service_parts import (
    PG_DATA,
    db_filter,
    db_password_secret,
    odoo_common_args,
    odoo_healthcheck,
    odoo_process,
    panel_labels,
    pinned_next_to_data,
    redis_conf_secret,
    service,
    session_env,
    update_configs,
)
from clusters.stack.service_spec import NetworkSpec, ServiceSpec, Stack, engine_spec, to_create_kwargs
from clusters.stack.spec import SiteSpec, ns, pinned_ref

__all__ = [
    "PG_DATA",
    "ROLES",
    "NetworkSpec",
    "ServiceSpec",
    "Stack",
    "backup_volume",
    "engine_spec",
    "render",
    "render_backup_task",
    "render_image_task",
    "render_probe_task",
    "render_query_task",
    "render_restore_task",
    "render_update_task",
    "session_env",
    "to_create_kwargs",
]


def _db(spec: SiteSpec) -> ServiceSpec:
    return pinned_next_to_data(
        spec,
        "db",
        PG_DATA,
        image=spec.db_image_ref,
        args=[],
        env={
            "POSTGRES_USER": spec.db_user,
            "POSTGRES_PASSWORD_FILE": DB_PASSWORD_FILE,
            "POSTGRES_DB": "postgres",
            "PGDATA": f"{PG_DATA}/pgdata",
        },
        secret_files=[db_password_secret(spec)],
        healthcheck=Healthcheck(
            test=["CMD", "pg_isready", "-U", spec.db_user, "-d", "postgres"],
            interval=ns(10),
            timeout=ns(5),
            retries=5,
            start_period=ns(60),
        ),
        stop_grace_period=ns(120),
        # PostgreSQL's fast shutdown, as the official image's STOPSIGNAL: SIGTERM is its smart
        # shutdown, which waits for every client (Odoo keeps its connections) until Swarm kills it
        # at the end of the grace period, and a killed server must recover at its next start.
        stop_signal="SIGINT",
    )


# redis-cli takes the password from REDISCLI_AUTH (never its command line); a wrong or missing one
# still exits 0 with a NOAUTH error, so only PONG is healthy.
REDIS_PING = (
    f'REDISCLI_AUTH="$(sed -n "s/^requirepass //p" {REDIS_CONF_FILE})" redis-cli ping | grep -qx PONG'
)


def _redis(spec: SiteSpec) -> ServiceSpec:
    return pinned_next_to_data(
        spec,
        "redis",
        "/data",
        image=pinned_ref(spec.redis_image, spec.redis_image_digest),
        # Said, not left to the image: the password (`requirepass` in the redis.conf secret; protected
        # mode stays on, as it has no effect once a password is set), the append-only file in the
        # mounted volume. Redis is reachable on the site's network only.
        args=["redis-server", REDIS_CONF_FILE, "--appendonly", "yes", "--dir", "/data"],
        env={},
        secret_files=[redis_conf_secret(spec)],
        healthcheck=Healthcheck(
            test=["CMD-SHELL", REDIS_PING], interval=ns(10), timeout=ns(5), retries=5, start_period=ns(10)
        ),
    )


def _odoo_like(
    spec: SiteSpec, role: str, args: list[str], replicas: int, order: str, **kw: Any
) -> ServiceSpec:
    upd, rb = update_configs(spec, order)
    return service(
        spec,
        role,
        args=args,
        **odoo_process(spec),
        mode=ServiceMode("replicated", replicas=replicas),
        # Any exit: Odoo exits 0 on SIGTERM, so a replica Swarm stopped (unhealthy, a node drained)
        # ends "complete", and with on-failure it would never be replaced (the service sat at 0/2).
        restart_policy=RestartPolicy(condition="any", delay=ns(5)),
        healthcheck=odoo_healthcheck(spec),
        update_config=upd,
        rollback_config=rb,
        stop_grace_period=ns(spec.stop_grace_period_s),
        extra_labels=kw.pop("extra_labels", {"traefik.enable": "false", "panel.image": spec.image}),
        **kw,
    )


def _odoo(spec: SiteSpec) -> ServiceSpec:
    t_net = spec.traefik.network or spec.network_name
    networks = list(dict.fromkeys([spec.network_name, t_net]))
    args = [
        "odoo",
        *odoo_common_args(spec),
        "--proxy-mode",
        db_filter(spec),
        "--no-database-list",
        f"--workers={spec.workers}",
        "--max-cron-threads=0",
        *spec.extra_args,
    ]
    labels = {"panel.image": spec.image, **traefik.traefik_labels(spec, t_net)}
    return _odoo_like(
        spec, "odoo", args, spec.replicas, "start-first", networks=networks, extra_labels=labels
    )


def _cron(spec: SiteSpec) -> ServiceSpec:
    args = [
        "odoo",
        *odoo_common_args(spec),
        f"--database={spec.db_name}",
        db_filter(spec),
        "--no-database-list",
        "--workers=0",
        f"--max-cron-threads={spec.max_cron_threads}",
        *spec.extra_args,
    ]
    # A stopped site (0 web replicas) runs no crons either.
    return _odoo_like(spec, "cron", args, 1 if spec.replicas > 0 else 0, "stop-first")


def render(spec: SiteSpec) -> Stack:
    network = NetworkSpec(name=spec.network_name, labels=panel_labels(spec, "network"))
    services = [_db(spec), _redis(spec), _odoo(spec), _cron(spec)]
    return Stack(network=network, services={s.name: s for s in services})
