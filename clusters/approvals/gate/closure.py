"""Transitive dependency closure of every addon at once, as manifestoo computes it for one.

manifestoo (`list-depends --transitive`, `list-missing`) answers one selection per run by walking from it;
answering 20,000 addons that way repeats the same walks 20,000 times. Here the graph is cut into strongly
connected components (iterative Tarjan: no recursion limit, dependency cycles are fine) and each
component's reach is computed once, from the components below it, in the order Tarjan completes them.

Semantics, matching manifestoo 1.1: only addons present in the graph (installable, in the paths) are
expanded; any other name (an Odoo core addon, a missing one) is a leaf. The closure of an addon excludes
the addon itself, even when a cycle leads back to it. Missing = names reached that are neither in the
graph nor in the known set (the core addons).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from clusters.approvals.gate.errors import GateError

# Up to this many roots, walk from each root instead: materialising every component's reach costs
# memory quadratic in chain depth (a 50,000-long chain holds 1.25 billion names), a walk only its own.
WALK_LIMIT = 32
# An upload is untrusted: a crafted 50,000-addon chain would need ~10^9 names (tens of GiB). Real trees
# total far less (the 20,000-addon benchmark tree: ~1.2 million).
MAX_TOTAL_NAMES = 30_000_000


@dataclass(frozen=True, slots=True)
class Closure:
    """One addon's transitive depends (excluding itself) and the names among them found nowhere."""

    closure: frozenset[str]
    missing: frozenset[str]


def compute_closures(
    depends: Mapping[str, Sequence[str]],
    known: Collection[str] = (),
    roots: Iterable[str] | None = None,
) -> dict[str, Closure]:
    """Closure and missing names for each root (default: every addon in `depends`).

    `depends` maps each expandable addon to its direct depends; `known` names (core addons) are leaves
    that are not missing. Roots that are not in `depends` are skipped.
    """
    targets = list(depends) if roots is None else [r for r in roots if r in depends]
    if roots is not None and len(targets) <= WALK_LIMIT:
        return {name: _walk(depends, known, name) for name in targets}
    reach, missing, scc_of = _component_reach(depends, known, targets, MAX_TOTAL_NAMES)
    result: dict[str, Closure] = {}
    for name in targets:
        scc = scc_of[name]
        names = reach[scc]
        if name in names:  # a cycle leads back: manifestoo never lists the selected addon itself
            names = names - {name}
        result[name] = Closure(names, missing[scc])
    return result


def _walk(depends: Mapping[str, Sequence[str]], known: Collection[str], root: str) -> Closure:
    """manifestoo's walk for one root, iterative: expand only addons in `depends`."""
    seen = {root}
    todo = [root]
    while todo:
        for dep in depends[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                if dep in depends:
                    todo.append(dep)
    lost = {n for n in seen if n not in depends and n not in known}
    seen.discard(root)
    return Closure(frozenset(seen), frozenset(lost))


def _component_reach(
    depends: Mapping[str, Sequence[str]], known: Collection[str], targets: list[str], budget: int
) -> tuple[list[frozenset[str]], list[frozenset[str]], dict[str, int]]:
    """Iterative Tarjan; returns per-component reach and missing sets, and each node's component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    scc_of: dict[str, int] = {}
    reach: list[frozenset[str]] = []
    missing: list[frozenset[str]] = []
    counter = 0
    for start in targets:
        if start in index:
            continue
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, pos = work[-1]
            deps = depends[node]
            descended = False
            while pos < len(deps):
                dep = deps[pos]
                pos += 1
                if dep not in depends:
                    continue
                if dep not in index:
                    work[-1] = (node, pos)
                    index[dep] = low[dep] = counter
                    counter += 1
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, 0))
                    descended = True
                    break
                if dep in on_stack and index[dep] < low[node]:
                    low[node] = index[dep]
            if descended:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index[node]:
                budget -= _close_component(node, stack, on_stack, scc_of, depends, known, reach, missing)
                if budget < 0:
                    raise GateError(
                        f"the dependency closures add up to more than {MAX_TOTAL_NAMES:,} names; "
                        "select fewer addons (--select)"
                    )
    return reach, missing, scc_of


def _close_component(
    root: str,
    stack: list[str],
    on_stack: set[str],
    scc_of: dict[str, int],
    depends: Mapping[str, Sequence[str]],
    known: Collection[str],
    reach: list[frozenset[str]],
    missing: list[frozenset[str]],
) -> int:
    """Pop one finished component, compute its reach from those finished below it; returns names held."""
    scc = len(reach)
    members: list[str] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        scc_of[member] = scc
        members.append(member)
        if member == root:
            break
    names: set[str] = set()
    lost: set[str] = set()
    for member in members:
        for dep in depends[member]:
            names.add(dep)
            below = scc_of.get(dep)
            if below is None:
                if dep not in depends and dep not in known:
                    lost.add(dep)
            elif below != scc:
                names |= reach[below]
                lost |= missing[below]
    reach.append(frozenset(names))
    missing.append(frozenset(lost))
    return len(names) * len(members)


def reverse_depends(depends: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """dependency -> the addons that list it directly; build once, query many times."""
    reverse: dict[str, list[str]] = {}
    for name, deps in depends.items():
        for dep in deps:
            reverse.setdefault(dep, []).append(name)
    return reverse


def dependents(reverse: Mapping[str, Sequence[str]], targets: Iterable[str]) -> set[str]:
    """Every addon that depends on a target, directly or transitively (the targets themselves excluded)."""
    start = set(targets)
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for parent in reverse.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen - start
