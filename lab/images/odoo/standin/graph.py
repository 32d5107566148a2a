"""The dependency graph of modules being loaded (odoo/modules/graph.py, Odoo 14-18).

A module enters the graph only when all its dependencies (from the manifest on disk) are in it.
The others are silently left out after an INFO `Unmet dependencies` line; the run still exits 0.
"""

import logging

from . import MAJOR, manifest

# 19 rewrote graph.py as module_graph.py, with its own wording: no `Unmet dependencies`.
_logger = logging.getLogger("odoo.modules.module_graph" if MAJOR >= 19 else "odoo.modules.graph")

FLAGS = ("init", "update", "demo")


class Node:
    def __init__(self, name: str, info: dict, depth: int):
        self.name = name
        self.info = info
        self.depth = depth
        self.flags: set[str] = set()
        self.id = 0
        self.state = "uninstalled"
        self.dbdemo = False
        self.installed_version = None


class Graph:
    def __init__(self, cfg):
        self.cfg = cfg
        self.nodes: dict[str, Node] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def __iter__(self):
        # By depth, then by name (Graph.__iter__).
        return iter(sorted(self.nodes.values(), key=lambda n: (n.depth, n.name)))

    def _add_node(self, name: str, info: dict) -> Node:
        father = None  # Graph.add_node: the last dependency of maximal depth
        for dep in info["depends"]:
            if father is None or self.nodes[dep].depth >= father.depth:
                father = self.nodes[dep]
        node = Node(name, info, father.depth + 1 if father else 0)
        if father:
            node.flags |= father.flags  # Node.add_child: a child inherits init/update/demo
        self.nodes[name] = node
        return node

    def add_modules(self, cr, names: list[str], force: tuple = ()) -> int:
        paths = self.cfg.all_addons_paths
        packages = []
        for name in names:
            info = manifest.load_manifest(name, paths)
            if info and info["installable"]:
                packages.append((name, info))
            else:
                _logger.warning("module %s: not installable, skipped", name)
        dependencies = {name: info["depends"] for name, info in packages}
        current, later = {name for name, _ in packages}, set()
        before = len(self)
        while packages and current > later:
            name, info = packages[0]
            if all(dep in self for dep in info["depends"]):
                if name not in current:
                    packages.pop(0)
                    continue
                later.clear()
                current.remove(name)
                node = self._add_node(name, info)
                for kind, wanted in (("init", self.cfg.init), ("update", self.cfg.update), ("demo", {})):
                    if name in wanted or "all" in wanted or kind in force:
                        node.flags.add(kind)
            else:
                later.add(name)
                packages.append((name, info))
            packages.pop(0)
        self.update_from_db(cr)
        for name in sorted(later):
            unmet = [d for d in dependencies[name] if d not in self]
            if MAJOR < 19:
                _logger.info("module %s: Unmet dependencies: %s", name, ", ".join(unmet))
            elif all(d in later for d in unmet):
                _logger.info("module %s: its direct/indirect dependency is skipped, skipped", name)
            else:
                _logger.info("module %s: some depends are not loaded, skipped", name)
        return len(self) - before

    def update_from_db(self, cr) -> None:
        if not self.nodes:
            return
        cr.execute(
            "SELECT name, id, state, demo, latest_version FROM ir_module_module WHERE name = ANY(%s)",
            (list(self.nodes),),
        )
        for name, id_, state, demo, version in cr.fetchall():
            node = self.nodes[name]
            node.id, node.state, node.dbdemo, node.installed_version = id_, state, demo, version
