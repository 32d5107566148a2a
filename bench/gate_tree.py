"""The generated tree of the gate benchmark: 20,000 addons (and 20 uninstallable ones) over four
addons paths, seeded so that every run builds the same tree, with deep chains, wide addons, cycles,
unknown dependencies and depends on uninstallable addons."""

from __future__ import annotations

import random
from pathlib import Path

SEED = 20260917
REPOS, PER_REPO, PATHS, FAMILY, RETIRED = 200, 100, 4, 20, 20
WORDS = [
    "account",
    "stock",
    "sale",
    "purchase",
    "mrp",
    "hr",
    "project",
    "web",
    "base",
    "product",
    "partner",
    "pos",
    "website",
    "crm",
    "l10n",
]
CORE_POOL = [
    "base",
    "web",
    "mail",
    "account",
    "sale",
    "stock",
    "purchase",
    "mrp",
    "hr",
    "project",
    "product",
    "uom",
    "portal",
    "contacts",
]


def generate_tree(dest: Path, seed: int = SEED) -> list[Path]:
    """Write 20,000 addons (and 20 uninstallable ones) under dest/p0..p3; return the addons paths.

    Ten families of twenty repositories of 100 addons, like OCA: inside a repository addons depend on
    one or two earlier ones (a window of 8), one repository in ten is a straight chain, repository
    bases chain to lower bases of their family, three chained repositories make a 300-deep chain,
    1% of addons are wide (30-80 depends), and there are cycles, unknown names and dependencies on
    `installable: False` addons.
    """
    rng = random.Random(seed)
    names = [[f"{WORDS[r % len(WORDS)]}_r{r:03d}_{i:03d}" for i in range(PER_REPO)] for r in range(REPOS)]
    chain_repos = {0, 1, 2} | set(rng.sample(range(3, REPOS), REPOS // 10))
    depends: dict[str, list[str]] = {}
    for r in range(REPOS):
        family, k = divmod(r, FAMILY)
        lower = [family * FAMILY + j for j in range(k)]
        for i in range(PER_REPO):
            deps: set[str] = set()
            if i == 0:
                deps.update(rng.sample(CORE_POOL, rng.randint(1, 3)))
                if r in (1, 2):  # the 300-deep chain: repos 0-2 end to end
                    deps.add(names[r - 1][PER_REPO - 1])
                elif lower:
                    deps.add(names[lower[-1]][0] if rng.random() < 0.5 else names[rng.choice(lower)][0])
            elif r in chain_repos:
                deps.add(names[r][i - 1])
            else:
                deps.add(names[r][i - rng.randint(1, min(i, 8))])
                if rng.random() < 0.2:
                    deps.add(names[r][i - rng.randint(1, min(i, 8))])
                if rng.random() < 0.3:
                    deps.add(names[r][0])
                deps.update(rng.sample(CORE_POOL, rng.randint(0, 2)))
            if lower and rng.random() < 0.1:
                deps.add(names[rng.choice(lower)][rng.randrange(10)])
            if lower and i >= PER_REPO - 5 and rng.random() < 0.2:  # wide, near the top like meta addons
                for _ in range(rng.randint(30, 80)):
                    deps.add(names[rng.choice(lower)][rng.randrange(PER_REPO)])
            if rng.random() < 0.005:
                deps.add(f"absent_{rng.randrange(300):03d}")
            if rng.random() < 0.002:  # Odoo and manifestoo both treat these as not available
                deps.add(f"retired_{rng.randrange(RETIRED):02d}")
            deps.discard(names[r][i])
            depends[names[r][i]] = sorted(deps)
    for r in rng.sample(range(3, REPOS), 5):  # a few cycles: manifestoo tolerates them, so must the gate
        depends[names[r][10]].append(names[r][60])
        depends[names[r][60]].append(names[r][10])
    paths = [dest / f"p{k}" for k in range(PATHS)]
    for r in range(REPOS):
        for i, name in enumerate(names[r]):
            _write_addon(paths[r % PATHS] / name, _manifest(name, depends[name], True, i))
    for k in range(RETIRED):  # extra folders, beyond the 20,000 installable addons
        _write_addon(paths[k % PATHS] / f"retired_{k:02d}", _manifest(f"retired_{k:02d}", ["base"], False, k))
    return paths


def _write_addon(folder: Path, manifest: str) -> None:
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "__manifest__.py").write_text(manifest)


def _manifest(name: str, depends: list[str], installable: bool, i: int) -> str:
    data = ",\n".join(f'        "views/{name}_{k}.xml"' for k in range(3 + i % 7))
    deps = ", ".join(f'"{d}"' for d in depends)
    return (
        f"# Copyright 2026 Example\n# License AGPL-3.0 or later (http://www.gnu.org/licenses/agpl).\n\n"
        f'{{\n    "name": "{name.replace("_", " ").title()}",\n    "version": "17.0.1.{i % 5}.0",\n'
        f'    "category": "Generated",\n    "summary": "Generated addon {name} for the gate benchmark",\n'
        f'    "author": "Example, Odoo Community Association (OCA)",\n'
        f'    "website": "https://github.com/OCA/example",\n    "license": "AGPL-3",\n'
        f'    "depends": [{deps}],\n    "data": [\n{data},\n    ],\n'
        f'    "installable": {installable},\n    "application": False,\n}}\n'
    )
