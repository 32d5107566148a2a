"""The edge's Traefik service, rendered from an Edge alone (pure: no engine, no database).

Why each choice: the Swarm provider reads the manager's socket, so the task is placed on a manager
and the socket is mounted read-only; `exposedByDefault=false` routes only services that say
`traefik.enable=true`; `refreshSeconds` is short because the default 15 s keeps routing a site's old
tasks (or none) for seconds after a change. Entrypoints are published in host mode (the lab has no
IPVS, and host mode keeps the client's address); `web` redirects to `websecure`. The API and ping
answer on their own entrypoint, published on `api_port` for the panel only. Traefik never calls out:
no version check, no usage statistics. Updates are stop-first: two tasks cannot hold one host port.
"""

from __future__ import annotations

from collections.abc import Mapping

from docker.types import (
    EndpointSpec,
    Healthcheck,
    Mount,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    UpdateConfig,
)

from clusters.stack.secrets import content_name
from clusters.stack.service_spec import NetworkSpec, ServiceSpec
from panel.crypto import reveal

API_PORT_INSIDE = 8080
API_ADDR = f":{API_PORT_INSIDE}"
SOCKET = "/var/run/docker.sock"
ACME_STORAGE = "/data/acme.json"
RESOLVER = "le"
S = 1_000_000_000
# No cluster name in them: two panels' rows for one Swarm (or a renamed cluster) render one spec.
LABELS = {"panel.role": "edge"}


# The default certificate reaches Traefik as Swarm secrets (files in /run/secrets, never in the
# service's spec or environment), with a file-provider configuration naming them. Secrets cannot be
# changed, so each is named after its content: a new certificate is new secrets and a rolling update.
SECRETS_DIR = "/run/secrets"
CERT_FILE, KEY_FILE, TLS_CONFIG_FILE = "edge-default.crt", "edge-default.key", "edge-tls.yml"
TLS_SECRET_LABELS = {"panel.role": "edge-tls"}


def tls_config() -> str:
    return (
        "tls:\n  stores:\n    default:\n      defaultCertificate:\n"
        f"        certFile: {SECRETS_DIR}/{CERT_FILE}\n        keyFile: {SECRETS_DIR}/{KEY_FILE}\n"
    )


def tls_files(edge) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """File name -> content of each secret the edge's default certificate needs; none without one."""
    if not edge.default_cert:
        return {}
    return {
        CERT_FILE: edge.default_cert.encode(),
        KEY_FILE: reveal(edge.default_key).encode(),
        TLS_CONFIG_FILE: tls_config().encode(),
    }


def tls_secret_name(filename: str, content: bytes) -> str:
    return content_name(f"panel-{filename.replace('.', '-')}", content)


def edge_network(edge) -> NetworkSpec:  # type: ignore[no-untyped-def]
    return NetworkSpec(name=edge.network, labels=dict(LABELS))


def traefik_args(edge) -> list[str]:  # type: ignore[no-untyped-def]
    args = [
        "--providers.swarm=true",
        f"--providers.swarm.endpoint=unix://{SOCKET}",
        "--providers.swarm.exposedByDefault=false",
        f"--providers.swarm.network={edge.network}",
        f"--providers.swarm.refreshSeconds={edge.refresh_seconds}",
        "--entrypoints.web.address=:80",
        "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        "--entrypoints.web.http.redirections.entrypoint.scheme=https",
        "--entrypoints.websecure.address=:443",
        "--entrypoints.websecure.http.tls=true",
        f"--entrypoints.traefik.address={API_ADDR}",
        "--api=true",
        "--api.insecure=true",
        "--api.dashboard=false",
        "--ping=true",
        "--accesslog=true",
        "--log.level=INFO",
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
    ]
    if edge.default_cert:
        args.append(f"--providers.file.filename={SECRETS_DIR}/{TLS_CONFIG_FILE}")
    if edge.acme_email:
        acme = f"--certificatesresolvers.{RESOLVER}.acme"
        args += [
            f"{acme}.email={edge.acme_email}",
            f"{acme}.storage={ACME_STORAGE}",
            f"{acme}.tlschallenge=true",
        ]
    return args


def edge_service(edge, secret_ids: Mapping[str, str] | None = None) -> ServiceSpec:  # type: ignore[no-untyped-def]
    """`secret_ids`: secret name -> id of the default certificate's secrets (deploy.py makes them; a
    render without them, to inspect it, names each secret by its name)."""
    ids = secret_ids or {}
    secrets = [
        SecretReference(ids.get(name) or name, name, filename=filename, uid="0", gid="0", mode=0o400)
        for filename, content in tls_files(edge).items()
        for name in [tls_secret_name(filename, content)]
    ]
    mounts = [Mount(target=SOCKET, source=SOCKET, type="bind", read_only=True)]
    if edge.acme_email:
        mounts.append(Mount(target="/data", source=f"{edge.service_name}-acme", type="volume"))
    labels = dict(LABELS)
    ports = {
        edge.http_port: (80, "tcp", "host"),
        edge.https_port: (443, "tcp", "host"),
        edge.api_port: (API_PORT_INSIDE, "tcp", "host"),
    }
    return ServiceSpec(
        name=edge.service_name,
        role="edge",
        image=edge.image,
        command=["traefik"],
        args=traefik_args(edge),
        env={},
        mounts=mounts,
        networks=[edge.network],
        labels=labels,
        container_labels=labels,
        mode=ServiceMode("replicated", replicas=1),
        restart_policy=RestartPolicy(condition="any", delay=2 * S),
        endpoint_spec=EndpointSpec(mode="dnsrr", ports=ports),
        healthcheck=Healthcheck(
            test=[
                "CMD",
                "traefik",
                "healthcheck",
                "--ping",
                f"--entrypoints.traefik.address={API_ADDR}",
            ],
            interval=5 * S,
            timeout=3 * S,
            retries=3,
            start_period=10 * S,
        ),
        update_config=UpdateConfig(parallelism=1, order="stop-first", failure_action="rollback"),
        constraints=["node.role==manager"],
        stop_grace_period=10 * S,
        secrets=secrets,
    )
