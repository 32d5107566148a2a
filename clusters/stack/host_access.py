"""The one rule that keeps every rendered task inside its container: nothing the panel renders may reach
the node's host.

A container that mounts a host folder, joins the host's network, or runs with more privileges than Docker's
defaults is root on the node: `/` mounted read-write (or the Docker socket, or /dev, /proc, /etc) lets the
site's image, which an operator chooses, rewrite the host. So every ServiceSpec is judged here, at the one
place it is built (service_parts.service), for the site's long-running services and its one-off tasks
alike, and a reason refuses it with SpecError before it is ever rendered:

- bind mounts only on a lab cluster, only of a plain, normalised folder that is not a system folder of
  the host (nor one holding such a folder), not a socket, and under the lab's filestore root when the
  spec knows it;
- volumes only as named volumes of the local driver, plain or NFS (the local driver's `type=none,o=bind`
  or a disk device is a bind mount in disguise); tmpfs is harmless; any other mount type is refused;
- no host, bridge or gateway network; no port published in host mode;
- no field of ServiceSpec that this rule does not judge (privileges, capabilities, sysctls, devices:
  ServiceSpec cannot express them today, and a new field must be judged here before it renders).

The site's own settings are judged too (`site_reach`): a site whose filestore or Traefik network could
reach the host has no task rendered at all, not even one that would not mount it (a backup, a query).
clusters/validators.py applies the same rules when a site is saved.
"""

from __future__ import annotations

import posixpath
from dataclasses import fields
from typing import Any

from docker.types import Mount

from clusters.stack.rules import SpecError, is_plain_abs_path
from clusters.stack.service_spec import ServiceSpec, to_create_kwargs
from clusters.stack.spec import BindFilestore, SiteSpec

# Host folders no container may see: the kernel's views, devices, sockets and runtime state, the
# configuration, the home of root, the boot files, the binaries and libraries, the container engines'
# own state, cron spools and users' homes. A folder holding one of these is refused too (`/`, `/var`).
SYSTEM_FOLDERS = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/etc",
    "/root",
    "/boot",
    "/home",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/spool",
)
HOST_NETWORKS = frozenset({"host", "bridge", "docker_gwbridge"})
# docker-py's service keyword arguments that give a container more than Docker's defaults.
HOST_KWARGS = frozenset({"privileges", "cap_add", "sysctls", "isolation", "devices", "userns_mode"})
# Every field of ServiceSpec, each judged below or harmless (inside the container, or the panel's own).
JUDGED_FIELDS = frozenset(
    {
        "name",
        "role",
        "image",
        "args",
        "env",
        "mounts",
        "networks",
        "labels",
        "container_labels",
        "mode",
        "restart_policy",
        "endpoint_spec",
        "healthcheck",
        "update_config",
        "rollback_config",
        "constraints",
        "command",
        "stop_grace_period",
        "stop_signal",
        # root inside the container holds Docker's default capabilities only; what it can touch of the
        # host is what is mounted, and mounts are judged above.
        "user",
        "secrets",  # Swarm secret files in /run/secrets, from the swarm's store, not the node's disk
        "secret_files",  # the same, named by content (clusters/stack/secrets.py)
    }
)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(f"{folder}/")


def bind_path_problem(path: str, lab_root: str | None = None) -> str | None:
    """Why the host folder `path` may not be bind-mounted even in the lab, or None. `lab_root`: the lab's
    filestore root, when known; the folder must then lie inside it."""
    if not is_plain_abs_path(path) or "//" in path:
        return f"bind path {path!r} must be an absolute path without '..', '//', ',' or ':'"
    if posixpath.normpath(path) != path:
        return f"bind path {path!r} is not normalised (write it {posixpath.normpath(path)!r})"
    if path == "/":
        return "bind path '/' is the host's root filesystem"
    for folder in SYSTEM_FOLDERS:
        if _under(path, folder):
            return f"bind path {path!r} is in {folder}, a system folder of the host"
        if _under(folder, path):
            return f"bind path {path!r} holds {folder}, a system folder of the host"
    if posixpath.basename(path).endswith(".sock") or "docker.sock" in path:
        return f"bind path {path!r} names a socket"
    if lab_root is not None and not (path != lab_root and _under(path, lab_root)):
        return f"bind path {path!r} is not a folder inside the lab's filestore root {lab_root}"
    return None


def _bind_problem(path: str, cluster_mode: str, lab_root: str | None) -> str | None:
    if cluster_mode != "lab":
        return (
            f"bind mount of host folder {path!r} refused outside the lab: it mounts the node's own disk "
            "into the container; use an NFS export"
        )
    return bind_path_problem(path, lab_root)


def network_problem(name: str) -> str | None:
    """Why a service may not join the network `name`, or None."""
    if name in HOST_NETWORKS:
        return f"network {name!r} is the node's own network, not an overlay"
    return None


def _volume_problem(mount: dict[str, Any]) -> str | None:
    source = mount.get("Source") or ""
    if "/" in source:
        return f"volume source {source!r} is a path, not a volume name"
    driver = (mount.get("VolumeOptions") or {}).get("DriverConfig") or {}
    if not driver:
        return None
    name, opts = driver.get("Name") or "local", driver.get("Options") or {}
    if name != "local":
        return f"volume {source!r} uses driver {name!r}; only the local driver is allowed"
    words = {w.split("=", 1)[0].strip().lower() for w in str(opts.get("o", "")).split(",")}
    if (
        opts.get("type") != "nfs"
        or not str(opts.get("device", "")).startswith(":")
        or words & {"bind", "rbind"}
    ):
        return f"volume {source!r} mounts {opts.get('device')!r} from the node (only NFS exports are allowed)"
    return None


def mount_problem(mount: Mount | str | dict[str, Any], cluster_mode: str, lab_root: str | None) -> str | None:
    """Why one mount could reach the host, or None."""
    m = Mount.parse_mount_string(mount) if isinstance(mount, str) else mount
    kind = m.get("Type")
    if kind == "bind":
        return _bind_problem(str(m.get("Source") or ""), cluster_mode, lab_root)
    if kind == "volume":
        return _volume_problem(m)
    if kind == "tmpfs":
        return None
    return f"mount type {kind!r} at {m.get('Target')!r} is not allowed"


def host_reach(service: ServiceSpec, cluster_mode: str, lab_root: str | None = None) -> list[str]:
    """Every way the service could reach its node's host; empty when it cannot."""
    reasons = [
        f"field {f.name!r} is not judged by the host rule (clusters/stack/host_access.py)"
        for f in fields(service)
        if f.name not in JUDGED_FIELDS
    ]
    kwargs = to_create_kwargs(service)
    reasons += [
        f"{key} gives the container more than Docker's defaults" for key in HOST_KWARGS & kwargs.keys()
    ]
    reasons += filter(None, (mount_problem(m, cluster_mode, lab_root) for m in service.mounts))
    reasons += filter(None, map(network_problem, service.networks))
    for port in (service.endpoint_spec or {}).get("Ports") or []:
        if port.get("PublishMode") == "host":
            reasons.append(f"port {port.get('PublishedPort')} is published on the node's own address")
    return reasons


def site_reach(spec: SiteSpec) -> list[str]:
    """What in the site's settings could reach the host, whichever task is rendered."""
    reasons: list[str | None] = []
    if isinstance(spec.filestore, BindFilestore):
        problem = _bind_problem(spec.filestore.path, spec.cluster_mode, spec.lab_filestore_root)
        reasons.append(problem and f"filestore: {problem}")
    if spec.traefik.network is not None:
        problem = network_problem(spec.traefik.network)
        reasons.append(problem and f"Traefik {problem}")
    return [r for r in reasons if r]


def refuse_host_reach(spec: SiteSpec, service: ServiceSpec) -> ServiceSpec:
    """The service, if neither its site nor it could reach the host; else SpecError naming every reason."""
    if reasons := site_reach(spec):
        raise SpecError(
            f"{service.name} is not rendered, the settings of site {spec.slug} could reach a node's "
            f"host: {'; '.join(reasons)}."
        )
    if reasons := host_reach(service, spec.cluster_mode, spec.lab_filestore_root):
        raise SpecError(
            f"{service.name} is not rendered, it could reach its node's host: {'; '.join(reasons)}."
        )
    return service
