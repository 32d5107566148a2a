"""Swarm secrets named by their content (clusters/stack/secrets.py): made before the services that
name them, removed once none does. One helper for the edge's certificate and the sites' passwords.

A secret still named by a service (its current spec) is refused removal by the engine; that refusal
is the guard, so pruning tries every candidate and leaves the refused ones for a later run. A
service's previous spec (what `docker service rollback` returns to) does not hold a secret: a
rollback to a spec whose secret was pruned fails, which cannot happen while a value stays the same
(the same content is the same secret), and the sites' passwords never change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace

import docker

from clusters.stack.secrets import SITE_SECRET_ROLE
from clusters.stack.service_spec import ServiceSpec


def _quiet(_: str) -> None:
    pass


def ensure(
    client: docker.DockerClient,
    contents: Mapping[str, bytes],
    labels: Mapping[str, str],
    log: Callable[[str], object] = _quiet,
) -> dict[str, str]:
    """Each secret (name -> content) made when missing; name -> id. The name says the content, so an
    existing secret of that name is the one wanted."""
    ids = {}
    for name, content in contents.items():
        found = _named(client, name)
        if found:
            ids[name] = found
            continue
        try:
            ids[name] = client.secrets.create(name=name, data=content, labels=dict(labels)).id
        except docker.errors.APIError as exc:
            # Two jobs of a site (the hourly tick starts a backup and a drill together) made it at
            # once: the engine refuses the second with 409, and the first one's is the same secret.
            if exc.status_code != 409 or not (found := _named(client, name)):
                raise
            ids[name] = found
            continue
        log(f"secret {name} created")
    return ids


def _named(client: docker.DockerClient, name: str) -> str:
    """The id of the secret called exactly `name` ("" when there is none; the filter matches prefixes)."""
    return next((s.id for s in client.secrets.list(filters={"name": name}) if s.name == name), "")


def prune(client: docker.DockerClient, labels: Mapping[str, str], keep: set[str]) -> list[str]:
    """The secrets with all of `labels` but those in `keep`, removed where no service names them
    any more; returns the names removed."""
    removed = []
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    for secret in client.secrets.list(filters=filters):
        if secret.name in keep:
            continue
        with contextlib.suppress(docker.errors.APIError):
            secret.remove()
            removed.append(secret.name)
    return removed


def resolved(
    client: docker.DockerClient, spec: ServiceSpec, log: Callable[[str], object] = _quiet
) -> ServiceSpec:
    """`spec` with the secrets it reads made and referenced by their ids (the engine takes ids)."""
    if not spec.secret_files:
        return spec
    refs = []
    for secret in spec.secret_files:
        ids = ensure(client, {secret.name: secret.content}, secret.labels, log)
        refs.append(secret.reference(ids[secret.name]))
    return replace(spec, secrets=[*spec.secrets, *refs], secret_files=[])


def prune_site(client: docker.DockerClient, slug: str, keep: set[str]) -> list[str]:
    """The site's secrets that its services (`keep`: the names they read) no longer use."""
    labels = {"panel.site": slug, "panel.role": SITE_SECRET_ROLE}
    return prune(client, labels, keep)
