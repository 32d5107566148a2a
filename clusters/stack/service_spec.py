"""What the renderer produces: the site's network and its Swarm services, and their docker-py forms.

Each ServiceSpec maps 1:1 onto `client.services.create(**to_create_kwargs(spec))`; `engine_spec()` gives the
JSON the engine stores for it, which is what summaries (and so drift and preflight) are built from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Healthcheck,
    Mount,
    Placement,
    RestartPolicy,
    RollbackConfig,
    SecretReference,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from clusters.stack.secrets import SecretFile
from clusters.stack.summary import summarize


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
    stop_signal: str | None = None  # None: the image's STOPSIGNAL (SIGTERM when it names none)
    user: str | None = None  # None: the image's own USER (only a one-off that prepares a folder sets it)
    secrets: list[SecretReference] = field(default_factory=list)  # Swarm secrets, files in /run/secrets
    # Secrets named by content that the service reads (clusters/stack/secrets.py): made when missing
    # and given their ids by clusters/swarm_secrets.py before the service is created or updated.
    secret_files: list[SecretFile] = field(default_factory=list)

    def secret_references(self) -> list[SecretReference]:
        return [*self.secrets, *(f.reference() for f in self.secret_files)]


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
        "stop_signal": service.stop_signal,
        "user": service.user,
        "secrets": service.secret_references() or None,
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
        stop_signal=service.stop_signal,
        user=service.user,
        secrets=service.secret_references() or None,
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
