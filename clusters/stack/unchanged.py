"""Is a live service already what the renderer wants? Then a deploy leaves it alone.

Every update sent to Swarm is a new service version, and one whose task template differs restarts the
tasks. docker-py sends some fields empty (`Resources: {}`, `DNSConfig: {}`) that the engine had not
stored before, so an unchanged site's redeploy restarted its database (issue 20). The rendered engine
spec is compared with the live one instead:

- what the panel renders empty (None, {}, [], "") is not compared: the engine stores nothing there;
- a number or flag the engine left out equals its zero (MaxFailureRatio 0, ForceUpdate 0);
- the engine keeps fields the panel never sends (defaults it fills in): ignored, except inside
  `Labels` maps, which must be equal (a label added by hand is drift the deploy repairs);
- lists (env, mounts, args, networks) must match item by item, in order;
- keys match whatever their case (docker-py sends `replicated` where the engine keeps `Replicated`).
Networks are compared by id: the engine stores ids where the renderer names them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

COMPLETE_MAPS = frozenset({"Labels"})


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


def _get(live: Mapping[str, Any], key: str) -> Any:
    """live[key]; docker-py spells some keys in lower case where the engine capitalises them
    (ServiceMode sends `replicated`, the engine stores `Replicated`)."""
    if key in live:
        return live[key]
    return next((v for k, v in live.items() if k.lower() == key.lower()), None)


def differences(live: Any, wanted: Any, *, key: str = "", path: str = "") -> list[str]:
    """Where `live` does not hold what `wanted` says (see the module docstring), as dotted paths."""
    here = path or "spec"
    if _empty(wanted):
        return []
    if isinstance(wanted, Mapping):
        if not isinstance(live, Mapping):
            return [here]
        if key in COMPLETE_MAPS:
            return [] if dict(live) == dict(wanted) else [here]
        found: list[str] = []
        for k, v in wanted.items():
            found += differences(_get(live, k), v, key=k, path=f"{path}.{k}" if path else k)
        return found
    if isinstance(wanted, list | tuple):
        if not isinstance(live, list | tuple) or len(live) != len(wanted):
            return [here]
        found = []
        for i, (a, b) in enumerate(zip(live, wanted, strict=True)):
            found += differences(a, b, key=key, path=f"{here}[{i}]")
        return found
    if live is None and (wanted is False or wanted == 0):
        return []
    return [] if live == wanted else [here]


def covers(live: Any, wanted: Any) -> bool:
    """True when `live` holds everything `wanted` says."""
    return not differences(live, wanted)


def with_network_ids(spec: Mapping[str, Any], network_id: Callable[[str], str]) -> dict[str, Any]:
    """The rendered engine spec with its networks' names replaced by their ids."""
    out = dict(spec)
    template = dict(out.get("TaskTemplate") or {})
    networks = template.get("Networks") or []
    template["Networks"] = [{**n, "Target": network_id(n["Target"])} for n in networks]
    out["TaskTemplate"] = template
    return out


def changed_fields(
    wanted: Mapping[str, Any], live: Mapping[str, Any], network_id: Callable[[str], str]
) -> list[str]:
    """`wanted`: engine_spec() of the rendered service; `live`: the service's attrs["Spec"]. Which
    fields differ (empty: the service is what the renderer wants)."""
    return differences(live, with_network_ids(wanted, network_id))


def unchanged(wanted: Mapping[str, Any], live: Mapping[str, Any], network_id: Callable[[str], str]) -> bool:
    return not changed_fields(wanted, live, network_id)
