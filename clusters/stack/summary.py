"""One JSON-able summary form for a Swarm service spec, used for the rendered and the live side alike.

Both sides go through `summarize()` on the engine's ServiceSpec JSON (rendered specs are converted with
service_spec.engine_spec, live ones come from `Service.attrs['Spec']`), so drift never reports a difference
that is only a difference of representation. Engine defaults are filled in where the engine omits a field
(update order stop-first, endpoint mode vip, restart condition any; zero durations omitted), and secrets are
redacted (panel.audit.mask.is_secret_key decides which): summaries are stored and shown on the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clusters.stack import traefik
from panel.audit.mask import is_secret_key  # what may hold a secret: the audit log's rule too

REDACTED = "<redacted>"
_MODES = {
    "replicated": "replicated",
    "replicatedjob": "replicated-job",
    "global": "global",
    "globaljob": "global-job",
}


def image_digest(image: str) -> str | None:
    """'repo:tag@sha256:...' or 'repo@sha256:...' -> 'sha256:...'; None when the reference is not pinned."""
    _, sep, digest = image.partition("@")
    return digest if sep and digest.startswith("sha256:") else None


def parse_env(env: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        key, _, value = item.partition("=")
        out[key] = REDACTED if is_secret_key(key) else value
    return out


def _ci(d: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    """Case-insensitive lookup: docker-py sends `replicated`, the engine answers `Replicated`."""
    if not d:
        return default
    for k, v in d.items():
        if k.lower() == key.lower():
            return v
    return default


def _mode(mode: Mapping[str, Any] | None) -> tuple[str, int | None]:
    for key, value in (mode or {"Replicated": {}}).items():
        name = _MODES.get(key.lower().replace("-", ""), key)
        if name == "replicated":
            return name, int(_ci(value, "Replicas", 1))
        if name == "replicated-job":
            return name, int(_ci(value, "TotalCompletions", 1))
        return name, None
    return "replicated", 1


def _update(cfg: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if cfg is None:
        return None
    return {
        "parallelism": int(cfg.get("Parallelism") or 0),
        "delay_ns": int(cfg.get("Delay") or 0),
        "failure_action": cfg.get("FailureAction") or "pause",
        "monitor_ns": int(cfg.get("Monitor") or 0),
        "max_failure_ratio": float(cfg.get("MaxFailureRatio") or 0),
        "order": cfg.get("Order") or "stop-first",
    }


def _mount(m: Mapping[str, Any]) -> dict[str, Any]:
    driver = (m.get("VolumeOptions") or {}).get("DriverConfig") or {}
    return {
        "type": m.get("Type") or "volume",
        "source": m.get("Source") or "",
        "target": m.get("Target") or "",
        "read_only": bool(m.get("ReadOnly")),
        "driver": driver.get("Name"),
        "driver_options": dict(driver.get("Options") or {}),
    }


def _healthcheck(hc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not hc or not hc.get("Test"):
        return None
    return {
        "test": list(hc["Test"]),
        "interval_ns": int(hc.get("Interval") or 0),
        "timeout_ns": int(hc.get("Timeout") or 0),
        "retries": int(hc.get("Retries") or 0),
        "start_period_ns": int(hc.get("StartPeriod") or 0),
        "start_interval_ns": int(hc.get("StartInterval") or 0),
    }


def summarize(
    spec: Mapping[str, Any], network_name: Callable[[str], str] | None = lambda n: n
) -> dict[str, Any]:
    """Engine ServiceSpec JSON -> summary. `network_name` maps a network target (an id on the live side) to
    its name; None means names are unknown, and `networks` is then None (drift skips it)."""
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    labels = dict(spec.get("Labels") or {})
    mode, replicas = _mode(spec.get("Mode"))
    restart = task.get("RestartPolicy")
    targets = [n.get("Target", "") for n in task.get("Networks") or spec.get("Networks") or []]
    image = container.get("Image") or ""
    return {
        "name": spec.get("Name"),
        "labels": labels,
        "container_labels": dict(container.get("Labels") or {}),
        "image": image,
        "image_digest": image_digest(image),
        "command": list(container.get("Command") or []),
        "args": list(container.get("Args") or []),
        "env": parse_env(container.get("Env")),
        "mounts": sorted((_mount(m) for m in container.get("Mounts") or []), key=lambda m: m["target"]),
        "networks": sorted(map(network_name, targets)) if network_name else None,
        "constraints": sorted((task.get("Placement") or {}).get("Constraints") or []),
        "mode": mode,
        "replicas": replicas,
        "update_config": _update(spec.get("UpdateConfig")),
        "rollback_config": _update(spec.get("RollbackConfig")),
        "restart_condition": (restart or {}).get("Condition") or "any",
        "healthcheck": _healthcheck(container.get("Healthcheck")),
        "endpoint_mode": (spec.get("EndpointSpec") or {}).get("Mode") or "vip",
        "traefik": traefik.parse_labels(labels),
    }
