"""SiteSpec -> Swarm network and service specs, each mapping 1:1 onto `client.services.create(**kwargs)`.

What a site becomes (design.md, "What a site becomes on Swarm"), and why each setting:
- `<slug>_odoo`: N web replicas, `--max-cron-threads=0`, session_redis server-wide with its env (facts §5),
  the filestore on the service's own mount (NFS options in production, a bind path in the lab), healthcheck on
  /web/health with a long start period (it gates traffic, facts §7), start-first + rollback, restart
  on-failure (the SDK default is `none`, facts §7), image pinned by digest, Traefik labels on the
  *service* (facts §6).
  No `-d` on web replicas: a `-d` database that does not exist is auto-created (facts §1), and N replicas
  starting together would race to create it; `--db-filter` pins them to the site's database instead.
- `<slug>_cron`: the one replica that runs crons (`-d` is safe there: one process), stop-first so that an
  update never runs two cron runners, even briefly.
- `<slug>_db`: PostgreSQL pinned with `node.hostname==` (seed: the database that walked away), data in
  `<slug>_db_data` on that node, stop-first (two postgres on one data dir corrupt it), long stop grace period.
  POSTGRES_DB stays `postgres`: if it were the site's database, Odoo would find it existing and empty.
- `<slug>_redis`: sessions, append-only file on a volume, pinned next to the database so sessions survive a
  restart (the site cannot run without that node anyway).
- Lab: endpoint mode dnsrr everywhere (no IPVS in the lab kernel, swarm-lab-notes); production uses vip.
  A service name resolves through Swarm DNS in both modes (to task IPs under dnsrr), so `<slug>_redis` and
  `<slug>_db` work as host names either way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from docker.types import (
    ContainerSpec,
    DriverConfig,
    EndpointSpec,
    Healthcheck,
    Mount,
    Placement,
    RestartPolicy,
    RollbackConfig,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from clusters.stack import traefik
from clusters.stack.spec import (
    ODOO_HTTP_PORT,
    PG_PORT,
    REDIS_PORT,
    BindFilestore,
    SiteSpec,
    SpecError,
    ns,
    pinned_ref,
    validate_modules,
)
from clusters.stack.summary import summarize

ROLES = ("db", "redis", "odoo", "cron")
PG_DATA = "/var/lib/postgresql/data"
RUN_ID_RE = re.compile(r"^[a-z0-9]{1,16}$")
BACKUP_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


@dataclass(frozen=True)
class NetworkSpec:
    """The site's overlay. Attachable so a one-off container can probe health from inside it."""

    name: str
    labels: dict[str, str]
    driver: str = "overlay"
    attachable: bool = True
    scope: str = "swarm"

    def to_create_kwargs(self) -> dict[str, Any]:
        """For `client.networks.create(**kwargs)`."""
        return {
            "name": self.name,
            "driver": self.driver,
            "attachable": self.attachable,
            "scope": self.scope,
            "labels": dict(self.labels),
        }


@dataclass
class ServiceSpec:
    """One Swarm service; fields are `client.services.create()` keyword arguments (durations in ns)."""

    name: str
    role: str
    image: str
    args: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    networks: list[str]
    labels: dict[str, str]
    container_labels: dict[str, str]
    mode: ServiceMode
    restart_policy: RestartPolicy
    endpoint_spec: EndpointSpec
    healthcheck: Healthcheck | None = None
    update_config: UpdateConfig | None = None
    rollback_config: RollbackConfig | None = None
    constraints: list[str] = field(default_factory=list)
    command: list[str] | None = None  # None keeps the image's entrypoint (it maps HOST/PORT/... to flags)
    stop_grace_period: int | None = None


@dataclass
class Stack:
    network: NetworkSpec
    services: dict[str, ServiceSpec]  # by service name, in creation order: db, redis, odoo, cron

    def service(self, role: str) -> ServiceSpec:
        return next(s for s in self.services.values() if s.role == role)

    def summary(self) -> dict[str, Any]:
        """JSON-able form of what the site should be, in the same shape as drift.live_stack_summary()."""
        return {
            "network": self.network.to_create_kwargs(),
            "services": {name: summarize(engine_spec(s)) for name, s in self.services.items()},
        }


def to_create_kwargs(service: ServiceSpec) -> dict[str, Any]:
    """Keyword arguments for `client.services.create(**kwargs)` (docker-py 7.x)."""
    kwargs: dict[str, Any] = {
        "name": service.name,
        "image": service.image,
        "args": list(service.args),
        "env": [f"{k}={v}" for k, v in service.env.items()],
        "mounts": list(service.mounts),
        "networks": list(service.networks),
        "labels": dict(service.labels),
        "container_labels": dict(service.container_labels),
        "mode": service.mode,
        "restart_policy": service.restart_policy,
        "endpoint_spec": service.endpoint_spec,
        "constraints": list(service.constraints),
    }
    optional = {
        "command": service.command,
        "healthcheck": service.healthcheck,
        "update_config": service.update_config,
        "rollback_config": service.rollback_config,
        "stop_grace_period": service.stop_grace_period,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    return kwargs


def engine_spec(service: ServiceSpec) -> dict[str, Any]:
    """The engine's ServiceSpec JSON for this service, as docker-py would send it (same shape as
    `Service.attrs['Spec']`, except that networks are named, not by id)."""
    container = ContainerSpec(
        image=service.image,
        command=service.command,
        args=list(service.args),
        env=[f"{k}={v}" for k, v in service.env.items()],
        labels=dict(service.container_labels),
        mounts=list(service.mounts),
        healthcheck=service.healthcheck,
        stop_grace_period=service.stop_grace_period,
    )
    task = TaskTemplate(
        container_spec=container,
        restart_policy=service.restart_policy,
        placement=Placement(constraints=list(service.constraints)),
        networks=list(service.networks),
    )
    spec: dict[str, Any] = {
        "Name": service.name,
        "Labels": dict(service.labels),
        "TaskTemplate": task,
        "Mode": service.mode,
        "EndpointSpec": service.endpoint_spec,
    }
    if service.update_config is not None:
        spec["UpdateConfig"] = service.update_config
    if service.rollback_config is not None:
        spec["RollbackConfig"] = service.rollback_config
    return spec


# --- building blocks ----------------------------------------------------------------------------------------
def panel_labels(spec: SiteSpec, role: str) -> dict[str, str]:
    """Every object names its site and role so the panel can find and reconcile it (design.md)."""
    return {"panel.managed": "true", "panel.site": spec.slug, "panel.role": role}


def _endpoint(spec: SiteSpec) -> EndpointSpec:
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
    """HOST/PORT/USER/PASSWORD are read by the official image's entrypoint. session_redis reads
    ODOO_SESSION_REDIS* (the prefix keeps sites apart should they ever share a Redis); session_db
    reads SESSION_DB_URI: the site's own database, where it keeps a table of sessions."""
    env = {
        "HOST": spec.service_name("db"),
        "PORT": str(PG_PORT),
        "USER": spec.db_user,
        "PASSWORD": spec.db_password,
        **session_env(spec),
    }
    env.update(spec.extra_env)
    return env


def session_env(spec: SiteSpec) -> dict[str, str]:
    """What the site's session store reads from the environment."""
    if spec.sessions == "session_redis":
        return {
            "ODOO_SESSION_REDIS": "1",
            "ODOO_SESSION_REDIS_HOST": spec.service_name("redis"),
            "ODOO_SESSION_REDIS_PORT": str(REDIS_PORT),
            "ODOO_SESSION_REDIS_PREFIX": spec.slug,
        }
    user, password = (quote(part, safe="") for part in (spec.db_user, spec.db_password))
    return {
        "SESSION_DB_URI": f"postgresql://{user}:{password}@{spec.service_name('db')}:{PG_PORT}/{spec.db_name}"
    }


def _odoo_common_args(spec: SiteSpec) -> list[str]:
    args = [f"--load={','.join(spec.server_wide)}", f"--data-dir={spec.data_dir}"]
    if spec.addons_path:
        args.append(f"--addons-path={','.join(spec.addons_path)}")
    return args


def _db_filter(spec: SiteSpec) -> str:
    return f"--db-filter=^{re.escape(spec.db_name)}$"


def odoo_healthcheck(spec: SiteSpec) -> Healthcheck:
    url = f"http://localhost:{ODOO_HTTP_PORT}/web/health" + (
        "?db_server_status=1" if spec.health_check_db else ""
    )
    test = list(spec.health_cmd) if spec.health_cmd else ["CMD", "curl", "-fsS", url]
    return Healthcheck(
        test=test,
        interval=ns(spec.health_interval_s),
        timeout=ns(spec.health_timeout_s),
        retries=spec.health_retries,
        start_period=ns(spec.health_start_period_s),
    )


def _update_configs(spec: SiteSpec, order: str) -> tuple[UpdateConfig, RollbackConfig]:
    """SDK defaults are parallelism=0 and failure_action=continue (facts §7): always set both explicitly.
    A rollback's own failure action may only be pause|continue."""
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


def _service(spec: SiteSpec, role: str, **kw: Any) -> ServiceSpec:
    name = kw.pop("name", spec.service_name(role))
    labels = {**panel_labels(spec, role), **kw.pop("extra_labels", {"traefik.enable": "false"})}
    kw.setdefault("networks", [spec.network_name])
    kw.setdefault("endpoint_spec", _endpoint(spec))
    return ServiceSpec(name=name, role=role, labels=labels, container_labels=panel_labels(spec, role), **kw)


# --- the four services --------------------------------------------------------------------------------------
def _db(spec: SiteSpec) -> ServiceSpec:
    upd, rb = _update_configs(spec, "stop-first")
    return _service(
        spec,
        "db",
        image=pinned_ref(spec.db_image, spec.db_image_digest),
        args=[],
        env={
            "POSTGRES_USER": spec.db_user,
            "POSTGRES_PASSWORD": spec.db_password,
            "POSTGRES_DB": "postgres",
            "PGDATA": f"{PG_DATA}/pgdata",
        },
        mounts=[
            Mount(
                target=PG_DATA,
                source=f"{spec.slug}_db_data",
                type="volume",
                labels=panel_labels(spec, "db-data"),
            )
        ],
        mode=ServiceMode("replicated", replicas=1),
        constraints=[f"node.hostname=={spec.db_node}"],
        restart_policy=RestartPolicy(condition="any", delay=ns(5)),
        healthcheck=Healthcheck(
            test=["CMD", "pg_isready", "-U", spec.db_user, "-d", "postgres"],
            interval=ns(10),
            timeout=ns(5),
            retries=5,
            start_period=ns(60),
        ),
        update_config=upd,
        rollback_config=rb,
        stop_grace_period=ns(120),
    )


def _redis(spec: SiteSpec) -> ServiceSpec:
    upd, rb = _update_configs(spec, "stop-first")
    return _service(
        spec,
        "redis",
        image=pinned_ref(spec.redis_image, spec.redis_image_digest),
        # Said, not left to the image: the append-only file in the mounted volume, and protected
        # mode off (on by default without a password, it refuses every client but loopback: every
        # login through session_redis would fail). Redis is reachable on the site's network only.
        args=["redis-server", "--appendonly", "yes", "--dir", "/data", "--protected-mode", "no"],
        env={},
        mounts=[
            Mount(
                target="/data",
                source=f"{spec.slug}_redis_data",
                type="volume",
                labels=panel_labels(spec, "redis-data"),
            )
        ],
        mode=ServiceMode("replicated", replicas=1),
        constraints=[f"node.hostname=={spec.db_node}"],
        restart_policy=RestartPolicy(condition="any", delay=ns(5)),
        healthcheck=Healthcheck(
            test=["CMD", "redis-cli", "ping"], interval=ns(10), timeout=ns(5), retries=5, start_period=ns(10)
        ),
        update_config=upd,
        rollback_config=rb,
    )


def _odoo_like(
    spec: SiteSpec, role: str, args: list[str], replicas: int, order: str, **kw: Any
) -> ServiceSpec:
    upd, rb = _update_configs(spec, order)
    return _service(
        spec,
        role,
        image=spec.odoo_image_ref,
        args=args,
        env=odoo_env(spec),
        mounts=[filestore_mount(spec)],
        mode=ServiceMode("replicated", replicas=replicas),
        restart_policy=RestartPolicy(condition="on-failure", delay=ns(5)),
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
        *_odoo_common_args(spec),
        "--proxy-mode",
        _db_filter(spec),
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
        *_odoo_common_args(spec),
        f"--database={spec.db_name}",
        _db_filter(spec),
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


# --- one-off tasks ------------------------------------------------------------------------------------------
def _task_name(spec: SiteSpec, kind: str, run_id: str | None) -> str:
    if run_id is None:
        return spec.service_name(kind)
    if not RUN_ID_RE.match(run_id):
        raise SpecError(f"run id {run_id!r}: 1-16 lower-case letters or digits.")
    return f"{spec.service_name(kind)}_{run_id}"


def _one_off(spec: SiteSpec, role: str, name: str, **kw: Any) -> ServiceSpec:
    """A job that runs once: restart condition none, or a failing task is started again and again
    (swarm-lab-notes; facts §7). Update/rollback settings do not apply to job modes."""
    return _service(
        spec,
        role,
        name=name,
        mode=ServiceMode("replicated-job", replicas=1, concurrency=1),
        restart_policy=RestartPolicy(condition="none"),
        healthcheck=Healthcheck(test=["NONE"]),
        **kw,
    )


def render_update_task(
    spec: SiteSpec, modules: list[str] | tuple[str, ...], run_id: str | None = None, *, install: bool = False
) -> ServiceSpec:
    """`odoo -d DB -u a,b --stop-after-init --no-http` on the site's network with the same digest,
    mounts and env. `--no-http` because a prefork server still binds the port with
    --stop-after-init (facts §1). install=True runs `-i` (new modules: `-u` ignores them)."""
    mods = validate_modules(modules)
    if not spec.image_digest:
        raise SpecError(
            "the site's image digest is unknown: deploy first, the update must run the same digest."
        )
    args = [
        "odoo",
        "-d",
        spec.db_name,
        "-i" if install else "-u",
        ",".join(mods),
        "--stop-after-init",
        "--no-http",
        *_odoo_common_args(spec),
        "--workers=0",
        "--max-cron-threads=0",
        *spec.extra_args,
    ]
    return _one_off(
        spec,
        "update-task",
        _task_name(spec, "update", run_id),
        image=spec.odoo_image_ref,
        args=args,
        env=odoo_env(spec),
        mounts=[filestore_mount(spec)],
        extra_labels={"traefik.enable": "false", "panel.modules": ",".join(mods)},
    )


def backup_volume(spec: SiteSpec) -> str:
    return f"{spec.slug}_backups"


def _backup_task(spec: SiteSpec, kind: str, filename: str, script: str, run_id: str | None) -> ServiceSpec:
    """A one-off with the db image, pinned to the database's node, with the site's backup volume at
    /backup. A named volume (not a bind path) needs nothing prepared on the node."""
    if not BACKUP_FILE_RE.match(filename):
        raise SpecError(f"backup file name {filename!r}: letters, digits, '.', '_' or '-' only.")
    return _one_off(
        spec,
        f"{kind}-task",
        _task_name(spec, kind, run_id),
        image=pinned_ref(spec.db_image, spec.db_image_digest),
        command=["sh", "-c", script],
        args=[],
        env={
            "PGPASSWORD": spec.db_password,
            "PGHOST": spec.service_name("db"),
            "PGPORT": str(PG_PORT),
            "PGUSER": spec.db_user,
            "PGDATABASE": spec.db_name,
        },
        mounts=[
            Mount(
                target="/backup",
                source=backup_volume(spec),
                type="volume",
                labels=panel_labels(spec, "backups"),
            )
        ],
        constraints=[f"node.hostname=={spec.db_node}"],
    )


def render_backup_task(spec: SiteSpec, filename: str, run_id: str | None = None) -> ServiceSpec:
    """pg_dump (custom format) into the site's backup volume; prints `size=<bytes>` at the end."""
    script = f"pg_dump --format=custom --file /backup/{filename} && stat -c 'size=%s' /backup/{filename}"
    return _backup_task(spec, "backup", filename, script, run_id)


def render_restore_task(spec: SiteSpec, filename: str, run_id: str | None = None) -> ServiceSpec:
    """pg_restore of a backup over the site's database (the site must be scaled to 0 first)."""
    script = (
        f"test -s /backup/{filename} && "
        f'pg_restore --clean --if-exists --no-owner --dbname "$PGDATABASE" /backup/{filename}'
    )
    return _backup_task(spec, "restore", filename, script, run_id)


def render_probe_task(spec: SiteSpec, run_id: str | None = None) -> ServiceSpec:
    """A one-off task on the site's network that asks every Odoo task for /web/health. Probing from
    inside proves what Traefik will see: the task IPs answer (Traefik routes to task IPs)."""
    target = f"tasks.{spec.service_name('odoo')}"
    script = (
        f"ips=$(getent ahostsv4 {target} | awk '{{print $1}}' | sort -u); "
        f'[ -n "$ips" ] || {{ echo "no Odoo task resolves as {target}"; exit 2; }}; rc=0; '
        'for ip in $ips; do if curl -fsS -m 5 "http://$ip:8069/web/health" >/dev/null; '
        'then echo "$ip healthy"; else echo "$ip UNHEALTHY"; rc=1; fi; done; exit $rc'
    )
    return render_image_task(spec, "probe", ["sh", "-c", script], run_id=run_id)


def render_image_task(
    spec: SiteSpec,
    kind: str,
    command: list[str],
    args: list[str] | None = None,
    *,
    run_id: str | None = None,
    on_network: bool = True,
) -> ServiceSpec:
    """A one-off task with the site's pinned Odoo image running one of the panel's own commands: no
    environment, no mounts, never routed by Traefik; on the site's network unless it only reads
    the image's own files (then it can run before the network exists)."""
    return _one_off(
        spec,
        f"{kind}-task",
        _task_name(spec, kind, run_id),
        image=spec.odoo_image_ref,
        command=command,
        args=args or [],
        env={},
        mounts=[],
        extra_labels={"traefik.enable": "false"},
        **({} if on_network else {"networks": []}),
    )


def render_query_task(spec: SiteSpec, sql: str, run_id: str | None = None) -> ServiceSpec:
    """psql in a one-off task on the site's network (the database is only reachable there), with
    the db image; prints rows as `a|b|c`. `sql` is the panel's own constant, never user input."""
    return _one_off(
        spec,
        "query-task",
        _task_name(spec, "query", run_id),
        image=pinned_ref(spec.db_image, spec.db_image_digest),
        command=["psql"],
        args=[
            "-h",
            spec.service_name("db"),
            "-U",
            spec.db_user,
            "-d",
            spec.db_name,
            "-At",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        env={"PGPASSWORD": spec.db_password, "PGCONNECT_TIMEOUT": "10"},
        mounts=[],
    )
