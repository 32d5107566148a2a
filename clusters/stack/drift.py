"""Drift: live Swarm services against what the site should be (a domain missing from the rule, an unpinned
database, replicas left at 0, a digest that differs between tasks).

The live side is parsed from docker-py `Service.attrs` / task attrs into the same summary form as the rendered
side (summary.summarize), then compared field by field. Messages name the service and the thing, for ops.
Replicas at 0 during a module update are expected: callers skip drift for a site while a job holds it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from clusters.stack.summary import REDACTED, summarize
from clusters.stack.traefik import rule_domains

_WATCHED_LABEL_PREFIXES = ("traefik.", "panel.")


@dataclass(frozen=True)
class Drift:
    service: str
    kind: str
    expected: Any
    actual: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- live side ----------------------------------------------------------------------------------------------
def task_digests(tasks: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """{task id: image digest} for the tasks that should be and are running (docker-py `Task.attrs` or
    `APIClient.tasks()` items). Each task keeps the spec it was created with, so stale digests show here."""
    out: dict[str, str | None] = {}
    for t in tasks:
        if t.get("DesiredState") != "running" or (t.get("Status") or {}).get("State") != "running":
            continue
        image = ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Image") or ""
        _, sep, digest = image.partition("@")
        out[str(t.get("ID"))] = digest if sep else None
    return out


def live_summary(
    service_attrs: Mapping[str, Any],
    tasks: Iterable[Mapping[str, Any]] | None = None,
    network_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """docker-py `Service.attrs` (engine JSON) -> summary. The engine stores network ids: pass
    {id: name} to compare networks, else `networks` is None and not compared."""
    names = dict(network_names) if network_names is not None else None
    summary = summarize(
        service_attrs.get("Spec") or {}, (lambda n: names.get(n, n)) if names is not None else None
    )
    summary["id"] = service_attrs.get("ID")
    if tasks is not None:
        summary["task_digests"] = task_digests(tasks)
    return summary


def live_stack_summary(
    services_attrs: Iterable[Mapping[str, Any]],
    tasks_by_service: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    network_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """All live services of a site (e.g. `client.services.list(filters={'label': 'panel.site=<slug>'})`),
    keyed by name like `Stack.summary()['services']`; `tasks_by_service` is keyed by service name."""
    out: dict[str, Any] = {}
    for attrs in services_attrs:
        name = (attrs.get("Spec") or {}).get("Name", "")
        tasks = tasks_by_service.get(name) if tasks_by_service is not None else None
        out[name] = live_summary(attrs, tasks, network_names)
    return {"services": out}


# --- comparison ---------------------------------------------------------------------------------------------
def _short(digest: Any) -> str:
    return str(digest)[:19] if isinstance(digest, str) and digest.startswith("sha256:") else str(digest)


def _services(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    return summary.get("services", summary)


def diff(rendered: Mapping[str, Any], live: Mapping[str, Any]) -> list[Drift]:
    """Rendered vs live stack summaries (either `{'services': {...}}` or `{name: summary}`); [] means none."""
    want, have = _services(rendered), _services(live)
    drifts: list[Drift] = []
    for name, exp in want.items():
        act = have.get(name)
        if act is None:
            drifts.append(Drift(name, "service_missing", "present", None, f"service {name} is missing"))
            continue
        drifts += _diff_service(name, exp, act)
    for name, act in have.items():
        if name not in want and act.get("labels", {}).get("panel.managed") == "true":
            drifts.append(
                Drift(
                    name,
                    "service_unexpected",
                    None,
                    "present",
                    f"service {name} is labelled as managed by the panel but is not part of the site "
                    "(a leftover one-off task?)",
                )
            )
    return drifts


def _diff_service(name: str, exp: Mapping[str, Any], act: Mapping[str, Any]) -> list[Drift]:
    return [
        *_diff_image(name, exp, act),
        *_diff_scale(name, exp, act),
        *_diff_routers(name, exp["traefik"]["routers"], act["traefik"]["routers"]),
        *_diff_labels(name, exp, act),
        *_diff_settings(name, exp, act),
        *_diff_mounts(name, exp["mounts"], act["mounts"]),
        *_diff_env(name, exp["env"], act["env"]),
        *_diff_networks(name, exp["networks"], act["networks"]),
    ]


def _missing_and_unexpected(
    name: str, what: str, want: Iterable[Any], have: Iterable[Any], missing: str, unexpected: str
) -> list[Drift]:
    """`<what>_missing` for each item of `want` not in `have`, then `<what>_unexpected` for each item of
    `have` not in `want`; the messages are templates with {item} and {name}."""
    want, have = list(want), list(have)
    return [
        Drift(name, f"{what}_missing", item, None, missing.format(item=item, name=name))
        for item in want
        if item not in have
    ] + [
        Drift(name, f"{what}_unexpected", None, item, unexpected.format(item=item, name=name))
        for item in have
        if item not in want
    ]


def _diff_image(name: str, exp: Mapping[str, Any], act: Mapping[str, Any]) -> list[Drift]:
    out: list[Drift] = []
    # Compare digests when pinned ("repo:tag@sha256:x" set by the CLI equals "repo@sha256:x"), else the refs.
    if (exp["image_digest"] or exp["image"]) != (act["image_digest"] or act["image"]):
        message = f"{name} is set to image {act['image'] or '(none)'}, expected {exp['image']}"
        out.append(Drift(name, "image", exp["image"], act["image"], message))
    if "task_digests" in act:
        counts = Counter(act["task_digests"].values())
        if counts and set(counts) != {exp["image_digest"]}:
            listing = ", ".join(f"{_short(d)} ({n} task{'s' * (n > 1)})" for d, n in counts.most_common())
            lead = (
                f"tasks of {name} run {len(counts)} different digests"
                if len(counts) > 1
                else f"tasks of {name} run another digest"
            )
            message = f"{lead}: {listing}; expected {_short(exp['image_digest'])}"
            out.append(Drift(name, "task_digests", exp["image_digest"], dict(counts), message))
    return out


def _diff_scale(name: str, exp: Mapping[str, Any], act: Mapping[str, Any]) -> list[Drift]:
    """Mode and replicas, and the placement constraints."""
    out: list[Drift] = []
    if exp["mode"] != act["mode"]:
        message = f"{name} runs in {act['mode']} mode, expected {exp['mode']}"
        out.append(Drift(name, "mode", exp["mode"], act["mode"], message))
    elif exp["replicas"] != act["replicas"]:
        message = f"{name} has {act['replicas']} replicas, expected {exp['replicas']}"
        out.append(Drift(name, "replicas", exp["replicas"], act["replicas"], message))
    return out + _missing_and_unexpected(
        name,
        "constraint",
        exp["constraints"],
        act["constraints"],
        "constraint {item} was removed from {name}",
        "{name} has an unexpected constraint {item}",
    )


def _diff_settings(name: str, exp: Mapping[str, Any], act: Mapping[str, Any]) -> list[Drift]:
    """Update, rollback and health settings, restart condition, endpoint mode, command line."""
    out: list[Drift] = []
    for key in ("update_config", "rollback_config", "healthcheck"):
        if exp[key] != act[key]:
            what = key.replace("_", " ")
            message = f"{what} of {name} is {_brief(act[key])}, expected {_brief(exp[key])}"
            out.append(Drift(name, key, exp[key], act[key], message))
    for key in ("restart_condition", "endpoint_mode"):
        if exp[key] != act[key]:
            message = f"{key.replace('_', ' ')} of {name} is {act[key]}, expected {exp[key]}"
            out.append(Drift(name, key, exp[key], act[key], message))
    if exp["args"] != act["args"] or exp["command"] != act["command"]:
        message = f"command line of {name} differs: {' '.join(act['args'])}"
        out.append(Drift(name, "args", exp["args"], act["args"], message))
    return out


def _diff_env(name: str, exp: Mapping[str, str], act: Mapping[str, str]) -> list[Drift]:
    """A redacted value (a secret) cannot be compared: only its presence is."""
    out: list[Drift] = []
    for k, v in exp.items():
        if k not in act:
            out.append(
                Drift(name, "env_missing", k, None, f"environment variable {k} is missing from {name}")
            )
        elif v != act[k] and REDACTED not in (v, act[k]):
            message = f"environment variable {k} of {name} is {act[k]!r}, expected {v!r}"
            out.append(Drift(name, "env_changed", v, act[k], message))
    return out


def _diff_networks(name: str, exp: list[str] | None, act: list[str] | None) -> list[Drift]:
    """None on either side: the network names are not known (live ids without a name map)."""
    if exp is None or act is None:
        return []
    return [
        Drift(name, "network_missing", n, None, f"{name} is not attached to network {n}")
        for n in exp
        if n not in act
    ]


def _brief(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    return ", ".join(
        f"{k}={v}"
        for k, v in value.items()
        if k in ("order", "failure_action", "parallelism", "test", "start_period_ns")
    )


def _diff_routers(name: str, exp: Mapping[str, Any], act: Mapping[str, Any]) -> list[Drift]:
    out: list[Drift] = []
    for router, r in exp.items():
        live = act.get(router)
        if live is None:
            out.append(
                Drift(
                    name,
                    "router_missing",
                    router,
                    None,
                    f"Traefik router {router} of {name} is missing: no domain reaches it",
                )
            )
            continue
        out += _missing_and_unexpected(
            name,
            "domain",
            r["domains"],
            live["domains"],
            "domain {item} is missing from the router rule of {name}",
            "domain {item} is in the router rule of {name} but not in the site",
        )
    return out


def _diff_labels(name: str, exp: Mapping[str, Any], act: Mapping[str, Any]) -> list[Drift]:
    out: list[Drift] = []
    for scope, key in (("label", "labels"), ("container label", "container_labels")):
        want, have = exp[key], act[key]
        for k, v in want.items():
            if k not in have:
                out.append(
                    Drift(
                        name, f"{key[:-1]}_missing", f"{k}={v}", None, f"{scope} {k} is missing from {name}"
                    )
                )
            elif have[k] != v:
                if k.endswith(".rule") and not _same_domains(v, have[k]):
                    continue  # a different set of domains is reported as such, by _diff_routers
                out.append(
                    Drift(
                        name,
                        f"{key[:-1]}_changed",
                        f"{k}={v}",
                        f"{k}={have[k]}",
                        f"{scope} {k} of {name} is {have[k]!r}, expected {v!r}",
                    )
                )
        if key == "labels":
            for k, v in have.items():
                if k not in want and k.startswith(_WATCHED_LABEL_PREFIXES):
                    out.append(
                        Drift(
                            name,
                            "label_unexpected",
                            None,
                            f"{k}={v}",
                            f"{name} has an unexpected label {k}={v}",
                        )
                    )
    return out


def _same_domains(a: str, b: str) -> bool:
    return sorted(rule_domains(a)) == sorted(rule_domains(b))


def _diff_mounts(name: str, exp: list[dict[str, Any]], act: list[dict[str, Any]]) -> list[Drift]:
    out: list[Drift] = []
    have = {m["target"]: m for m in act}
    for m in exp:
        live = have.get(m["target"])
        if live is None:
            out.append(Drift(name, "mount_missing", m, None, f"{name} no longer mounts {m['target']}"))
        elif live != m:
            out.append(
                Drift(
                    name,
                    "mount_changed",
                    m,
                    live,
                    f"mount {m['target']} of {name} is {live['type']} {live['source']} "
                    f"{live['driver_options'] or ''}, expected {m['type']} {m['source']} "
                    f"{m['driver_options'] or ''}".rstrip(),
                )
            )
    return out
