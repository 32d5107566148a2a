"""Rendered services carry every checklist property, in docker-py types, durations in ns."""

from __future__ import annotations

import json

import docker
import pytest
from docker.models.services import ServiceCollection
from docker.types import Healthcheck, Mount, RestartPolicy, ServiceMode, UpdateConfig

from clusters.stack.render import (
    engine_spec,
    render,
    render_backup_task,
    render_restore_task,
    render_update_task,
    to_create_kwargs,
)
from clusters.stack.spec import BindFilestore, NfsFilestore, SpecError, TraefikSpec

A = "sha256:" + "a" * 64
S = 1_000_000_000


def _odoo(spec):
    return render(spec).services[f"{spec.slug}_odoo"]


def test_services_and_network(make_spec):
    stack = render(make_spec())
    assert list(stack.services) == ["acme_db", "acme_redis", "acme_odoo", "acme_cron"]
    assert stack.network.to_create_kwargs() == {
        "name": "acme_net",
        "driver": "overlay",
        "attachable": True,
        "scope": "swarm",
        "labels": {"panel.managed": "true", "panel.site": "acme", "panel.role": "network"},
    }
    for svc in stack.services.values():
        for labels in (svc.labels, svc.container_labels):
            assert labels["panel.site"] == "acme" and labels["panel.managed"] == "true"
            assert labels["panel.role"] == svc.role
        assert isinstance(svc.mode, ServiceMode) and isinstance(svc.restart_policy, RestartPolicy)
        assert "acme_net" in svc.networks
    assert stack.service("db").name == "acme_db"


def test_image_pinned_by_digest(make_spec):
    assert _odoo(make_spec()).image == f"registry.example.com/odoo@{A}"
    assert render(make_spec()).service("cron").image == f"registry.example.com/odoo@{A}"
    assert _odoo(make_spec(image_digest=None)).image == "registry.example.com/odoo:17.0"
    assert _odoo(make_spec()).labels["panel.image"] == "registry.example.com/odoo:17.0"


def test_session_redis_and_db_environment(make_spec):
    for svc in (_odoo(make_spec()), render(make_spec()).service("cron")):
        assert "--load=base,web,session_redis" in svc.args
        assert svc.env["ODOO_SESSION_REDIS"] == "1"
        assert svc.env["ODOO_SESSION_REDIS_HOST"] == "acme_redis"
        assert svc.env["ODOO_SESSION_REDIS_PREFIX"] == "acme"
        assert svc.env["ODOO_SESSION_REDIS_PASSWORD"] == "r3dis-pass-0123456789"  # no file variant
        assert (svc.env["HOST"], svc.env["PORT"], svc.env["USER"], svc.env["PASSWORD_FILE"]) == (
            "acme_db",
            "5432",
            "odoo",
            "/run/secrets/db_password",
        )
        assert "PASSWORD" not in svc.env
        assert [f.filename for f in svc.secret_files] == ["db_password"]
        assert svc.command is None  # the image's entrypoint turns HOST/PORT/USER/PASSWORD_FILE into flags
        assert svc.args[0] == "odoo"
    assert make_spec(extra_env={"TZ": "UTC"}) and _odoo(make_spec(extra_env={"TZ": "UTC"})).env["TZ"] == "UTC"


def test_web_and_cron_args_put_crons_on_one_replica(make_spec):
    stack = render(make_spec(workers=3, replicas=4, max_cron_threads=2))
    web, cron = stack.service("odoo"), stack.service("cron")
    assert {
        "--proxy-mode",
        "--db-filter=^acme$",
        "--no-database-list",
        "--workers=3",
        "--max-cron-threads=0",
        "--data-dir=/var/lib/odoo",
        "--addons-path=/mnt/extra-addons",
    } <= set(web.args)
    assert not any(a in ("-d", "--database") or a.startswith("--database=") for a in web.args)
    assert web.mode.replicas == 4
    assert {"--database=acme", "--workers=0", "--max-cron-threads=2"} <= set(cron.args)
    assert cron.mode.replicas == 1 and cron.update_config is not None
    assert cron.update_config["Order"] == "stop-first"
    assert render(make_spec(replicas=0)).service("cron").mode.replicas == 0


def test_database_pinned_with_its_volume(make_spec):
    db = render(make_spec()).service("db")
    assert db.constraints == ["node.hostname==db1"]
    assert db.mounts == [
        Mount(
            target="/var/lib/postgresql/data",
            source="acme_db_data",
            type="volume",
            labels={"panel.managed": "true", "panel.site": "acme", "panel.role": "db-data"},
        )
    ]
    assert db.mode.replicas == 1 and db.update_config is not None
    assert db.update_config["Order"] == "stop-first"
    assert db.env["POSTGRES_DB"] == "postgres" and db.env["POSTGRES_USER"] == "odoo"
    assert db.restart_policy["Condition"] == "any"
    redis = render(make_spec()).service("redis")
    assert redis.constraints == ["node.hostname==db1"] and redis.mounts[0]["Source"] == "acme_redis_data"
    # Sessions survive a restart (AOF in the volume); the password is in the redis.conf secret, which
    # also lets the Odoo replicas connect at all (protected mode refuses non-loopback clients to a
    # Redis without a password; tests/lab/test_seed_failures_lab.py).
    assert redis.args[redis.args.index("--dir") + 1] == redis.mounts[0]["Target"] == "/data"
    assert redis.args[1] == "/run/secrets/redis.conf" and "--protected-mode" not in redis.args
    (conf,) = redis.secret_files
    assert conf.content == b"requirepass r3dis-pass-0123456789\n" and conf.name.startswith("acme_redis-conf-")
    ping = redis.healthcheck["Test"][1]
    assert "/run/secrets/redis.conf" in ping and "PONG" in ping
    assert db.env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_PASSWORD" not in db.env


def test_update_rollback_restart_and_durations_in_ns(make_spec):
    web = _odoo(make_spec(update_monitor_s=45, update_delay_s=7))
    assert isinstance(web.update_config, UpdateConfig)
    assert web.update_config == {
        "Parallelism": 1,
        "Delay": 7 * S,
        "FailureAction": "rollback",
        "Monitor": 45 * S,
        "MaxFailureRatio": 0,
        "Order": "start-first",
    }
    assert web.rollback_config["FailureAction"] == "pause" and web.rollback_config["Order"] == "start-first"
    assert web.restart_policy["Condition"] == "any" and web.restart_policy["Delay"] == 5 * S
    assert web.stop_grace_period == 30 * S


def test_healthcheck(make_spec):
    hc = _odoo(make_spec(health_start_period_s=240, engine_start_interval=True))
    assert isinstance(hc.healthcheck, Healthcheck)
    assert hc.healthcheck == {
        "Test": ["CMD", "curl", "-fsS", "http://localhost:8069/web/health"],
        "Interval": 30 * S,
        "Timeout": 10 * S,
        "Retries": 3,
        "StartPeriod": 240 * S,
        "StartInterval": 2 * S,
    }
    assert all(isinstance(v, int) for k, v in hc.healthcheck.items() if k != "Test")
    db_status = _odoo(make_spec(health_check_db=True)).healthcheck["Test"][-1]
    assert db_status.endswith("/web/health?db_server_status=1")
    custom = _odoo(make_spec(health_cmd=["CMD", "python3", "/health.py"])).healthcheck["Test"]
    assert custom == ["CMD", "python3", "/health.py"]


def test_traefik_v3_labels(make_spec):
    labels = _odoo(make_spec()).labels
    assert labels["traefik.enable"] == "true"
    assert labels["traefik.http.routers.acme.rule"] == "Host(`shop.example.com`) || Host(`www.example.com`)"
    assert labels["traefik.http.routers.acme.entrypoints"] == "websecure"
    assert labels["traefik.http.routers.acme.tls"] == "true"
    assert labels["traefik.http.routers.acme.tls.certresolver"] == "le"
    assert labels["traefik.http.routers.acme.service"] == "acme"
    lb = "traefik.http.services.acme.loadbalancer"
    assert labels[f"{lb}.server.port"] == "8069"
    assert (labels[f"{lb}.sticky.cookie"], labels[f"{lb}.sticky.cookie.name"]) == ("true", "odoo_sticky")
    assert labels[f"{lb}.sticky.cookie.secure"] == "true"
    assert labels[f"{lb}.sticky.cookie.httponly"] == "true"
    assert labels[f"{lb}.sticky.cookie.samesite"] == "lax"
    assert labels["traefik.swarm.network"] == "traefik-public"
    assert not any(k.startswith("traefik.docker.") or "lbswarm" in k for k in labels)
    # one router for the site, plus the websocket one (workers=2)
    routers = {k.split(".")[3] for k in labels if k.startswith("traefik.http.routers.")}
    assert routers == {"acme", "acme-ws"}
    assert _odoo(make_spec()).networks == ["acme_net", "traefik-public"]


def test_traefik_v2_syntax_and_network_prefix(make_spec):
    labels = _odoo(make_spec(traefik=TraefikSpec(version="v2", network="proxy"))).labels
    assert labels["traefik.http.routers.acme.rule"] == "Host(`shop.example.com`,`www.example.com`)"
    assert labels["traefik.http.routers.acme-ws.rule"] == (
        "Host(`shop.example.com`,`www.example.com`) && PathPrefix(`/websocket`)"
    )
    assert labels["traefik.docker.network"] == "proxy"
    assert not any(k.startswith("traefik.swarm.") for k in labels)
    assert "traefik.http.routers.acme.tls.certresolver" not in labels


def test_websocket_route_only_with_workers(make_spec):
    with_workers = _odoo(make_spec(workers=2)).labels
    assert with_workers["traefik.http.routers.acme-ws.rule"] == (
        "(Host(`shop.example.com`) || Host(`www.example.com`)) && PathPrefix(`/websocket`)"
    )
    assert with_workers["traefik.http.services.acme-ws.loadbalancer.server.port"] == "8072"
    assert with_workers["traefik.http.routers.acme-ws.service"] == "acme-ws"
    assert not any("sticky" in k for k in with_workers if ".acme-ws." in k)
    one = _odoo(make_spec(workers=1, domains=["shop.example.com"])).labels
    assert one["traefik.http.routers.acme-ws.rule"] == "Host(`shop.example.com`) && PathPrefix(`/websocket`)"
    threaded = _odoo(make_spec(workers=0)).labels
    assert not any("acme-ws" in k for k in threaded)


def test_plain_http_router_has_no_secure_cookie(make_spec):
    labels = _odoo(make_spec(traefik=TraefikSpec(tls=False, entrypoint="web", network="t"))).labels
    assert "traefik.http.routers.acme.tls" not in labels
    assert labels["traefik.http.services.acme.loadbalancer.sticky.cookie.secure"] == "false"


def test_no_domain_means_traefik_disabled(make_spec):
    labels = _odoo(make_spec(domains=())).labels
    assert labels["traefik.enable"] == "false"
    assert not any(k.startswith("traefik.http.") for k in labels)
    for role in ("db", "redis", "cron"):
        assert render(make_spec()).service(role).labels["traefik.enable"] == "false"


def test_nfs_filestore_on_the_service_mount(make_spec):
    stack = render(make_spec())
    web, cron = stack.service("odoo"), stack.service("cron")
    (mount,) = web.mounts
    assert mount == cron.mounts[0]
    assert mount["Type"] == "volume" and mount["Target"] == "/var/lib/odoo"
    assert mount["Source"].startswith("acme_filestore_")
    assert mount["VolumeOptions"]["DriverConfig"] == {
        "Name": "local",
        "Options": {"type": "nfs", "o": "addr=10.0.0.10,rw,nfsvers=4,hard", "device": ":/exports/acme"},
    }
    moved = _odoo(make_spec(filestore=NfsFilestore("10.0.0.11", "/exports/acme"))).mounts[0]
    assert moved["Source"] != mount["Source"]  # a stale local volume on a node is never reused


def test_lab_bind_mount_and_dnsrr(make_spec):
    stack = render(make_spec(cluster_mode="lab", filestore=BindFilestore("/srv/lab/acme")))
    assert stack.service("odoo").mounts == [
        Mount(target="/var/lib/odoo", source="/srv/lab/acme", type="bind")
    ]
    assert all(s.endpoint_spec == {"Mode": "dnsrr"} for s in stack.services.values())
    assert all(s.endpoint_spec == {"Mode": "vip"} for s in render(make_spec()).services.values())


def test_create_kwargs_map_onto_docker_py(make_spec, monkeypatch):
    """Go through the real `client.services.create()` and capture the JSON body it posts to the engine."""
    client = docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.41")
    posted: list[dict] = []
    monkeypatch.setattr(client.api, "_post_json", lambda url, data, **kw: posted.append(data))
    monkeypatch.setattr(client.api, "_result", lambda resp, json=False: {"ID": "svc1"})
    monkeypatch.setattr(ServiceCollection, "get", lambda self, sid, **kw: sid)
    stack = render(make_spec())
    for svc in stack.services.values():
        client.services.create(**to_create_kwargs(svc))
    bodies = {b["Name"]: json.loads(json.dumps(b)) for b in posted}
    odoo = bodies["acme_odoo"]
    c = odoo["TaskTemplate"]["ContainerSpec"]
    assert c["Image"] == f"registry.example.com/odoo@{A}"
    assert c["Labels"]["panel.role"] == "odoo" and odoo["Labels"]["traefik.enable"] == "true"
    assert c["Healthcheck"]["StartPeriod"] == 180 * S
    assert odoo["Mode"] == {"replicated": {"Replicas": 2}}
    assert odoo["UpdateConfig"]["Order"] == "start-first" and odoo["UpdateConfig"]["Monitor"] == 60 * S
    assert odoo["TaskTemplate"]["Networks"] == [{"Target": "acme_net"}, {"Target": "traefik-public"}]
    assert odoo["EndpointSpec"] == {"Mode": "vip"}
    assert bodies["acme_db"]["TaskTemplate"]["Placement"]["Constraints"] == ["node.hostname==db1"]
    # engine_spec() is what the summary is built from: it must be the body docker-py sends.
    for name, svc in stack.services.items():
        body = {k: v for k, v in bodies[name].items() if v is not None}
        assert json.loads(json.dumps(engine_spec(svc))) == body


def test_update_task(make_spec):
    spec = make_spec(extra_args=["--limit-time-real=1200"])
    task = render_update_task(spec, ["sale", "stock"], run_id="j42")
    web = render(spec).service("odoo")
    assert task.name == "acme_update_j42" and task.role == "update-task"
    assert task.args[:8] == [
        "odoo",
        "-d",
        "acme",
        "-u",
        "sale,stock",
        "--stop-after-init",
        "--no-http",
        "--load=base,web,session_redis",
    ]
    assert {
        "--workers=0",
        "--max-cron-threads=0",
        "--limit-time-real=1200",
        "--addons-path=/mnt/extra-addons",
        "--data-dir=/var/lib/odoo",
    } <= set(task.args)
    assert task.image == web.image and task.mounts == web.mounts and task.env == web.env
    assert task.networks == ["acme_net"]
    assert task.restart_policy["Condition"] == "none"
    assert task.mode == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert task.update_config is None and task.healthcheck == {
        "Test": ["NONE"],
        "Interval": None,
        "Timeout": None,
        "Retries": None,
        "StartPeriod": None,
    }
    assert task.labels["panel.role"] == "update-task" and task.labels["panel.modules"] == "sale,stock"
    assert task.labels["traefik.enable"] == "false"
    assert render_update_task(spec, ["sale"]).name == "acme_update"
    to_create_kwargs(task)


@pytest.mark.parametrize("modules", [["all"], ["base"], ["sale,stock"], ["Sale"], ["x y"], []])
def test_update_task_refuses_bad_modules(make_spec, modules):
    with pytest.raises(SpecError):
        render_update_task(make_spec(), modules)


def test_update_task_needs_a_digest_and_a_clean_run_id(make_spec):
    with pytest.raises(SpecError, match="digest"):
        render_update_task(make_spec(image_digest=None), ["sale"])
    with pytest.raises(SpecError, match="run id"):
        render_update_task(make_spec(), ["sale"], run_id="../x")


def test_backup_and_restore_tasks(make_spec):
    spec = make_spec(db_image_digest="sha256:" + "d" * 64)
    task = render_backup_task(spec, "2026-11-21.dump")
    assert task.name == "acme_backup" and task.role == "backup-task"
    assert task.image == "postgres@sha256:" + "d" * 64
    assert "pg_dump --format=custom --snapshot=" in task.command[-1]
    assert "stat -c 'size=%s' 2026-11-21.dump" in task.command[-1]
    assert "tar -C /var/lib/odoo/filestore -czf 2026-11-21.filestore.tar.gz acme" in task.command[-1]
    assert "PGPASSWORD" not in task.env and task.env["PGHOST"] == "acme_db"
    assert task.command[2].startswith('PGPASSWORD="$(cat /run/secrets/db_password)"')
    assert task.mounts[0] == Mount(
        target="/backup",
        source="acme_backups",
        type="volume",
        labels={"panel.managed": "true", "panel.site": "acme", "panel.role": "backups"},
    )
    assert task.mounts[1]["Target"] == "/var/lib/odoo" and task.mounts[1]["ReadOnly"]  # the filestore
    assert len(task.mounts) == 2
    assert task.constraints == ["node.hostname==db1"]
    assert task.restart_policy["Condition"] == "none" and "ReplicatedJob" in task.mode
    restore = render_restore_task(spec, "2026-11-21.dump", run_id="j7")
    assert restore.name == "acme_restore_j7" and "pg_restore --clean" in restore.command[2]
    for bad in ("../x.dump", "a b.dump", "x;rm -rf /", ""):
        with pytest.raises(SpecError):
            render_backup_task(spec, bad)


def test_a_19_site_keeps_sessions_in_its_own_database_and_no_summary_shows_the_password(make_spec):
    spec = make_spec(series="19.0", db_password="p@ss/word")
    stack = render(spec)
    for svc in (stack.service("odoo"), stack.service("cron")):
        assert "--load=base,rpc,web,session_db" in svc.args
        # A database name: session_db's db_connect reaches it with Odoo's own --db_* settings.
        assert svc.env["SESSION_DB_URI"] == "acme"
        assert not any(key.startswith("ODOO_SESSION_REDIS") for key in svc.env)
    summary = json.dumps(stack.summary())
    assert "p@ss" not in summary and "p%40ss" not in summary
