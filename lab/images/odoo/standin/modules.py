"""ir.module.module's state machine (odoo/addons/base/models/ir_module.py).

update_list, button_install (with auto_install), button_upgrade (with the cascade to installed
dependents) and reset_modules_state, over the real tables.
"""

import logging
from collections import defaultdict

from . import manifest, pg, schema

_logger = logging.getLogger("odoo.modules.loading")

INSTALL_STATES = frozenset(("installed", "to install", "to upgrade"))


class UserError(Exception):
    """odoo.exceptions.UserError: raised during -i/-u, it makes the run fail with exit 255."""


UserError.__module__ = "odoo.exceptions"  # the traceback's last line names it as Odoo does


def update_list(cr, paths: list[str]) -> None:
    """Add a row for every module on disk and refresh manifests and dependencies of known ones."""
    cols = list(schema.terp_values({}))
    cr.execute(f"SELECT id, name, state, {', '.join(cols)} FROM ir_module_module")  # noqa: S608
    known = {row[1]: row for row in cr.fetchall()}
    for name in manifest.get_modules(paths):
        info = manifest.get_module_info(name, paths)
        values = schema.terp_values(info)
        row = known.get(name)
        if row:
            module_id, state, old = row[0], row[2], dict(zip(cols, row[3:], strict=True))
            updated = {k: v for k, v in values.items() if (old[k] or v) and v != old[k]}
            if info.get("installable", True) and state == "uninstallable":
                updated["state"] = "uninstalled"
            if updated:
                sets = ", ".join(f"{k} = %s" for k in updated)
                cr.execute(
                    f"UPDATE ir_module_module SET {sets} WHERE id = %s",  # noqa: S608
                    [*updated.values(), module_id],
                )
        else:
            if not info:
                continue
            state = "uninstalled" if info.get("installable", True) else "uninstallable"
            module_id = schema.insert_module(cr, name, state, info)
        _update_dependencies(cr, module_id, info.get("depends", []), info.get("auto_install") or ())


def _update_dependencies(cr, module_id: int, depends: list[str], auto_required) -> None:
    cr.execute("SELECT name FROM ir_module_module_dependency WHERE module_id = %s", (module_id,))
    existing = {r[0] for r in cr.fetchall()}
    needed = set(depends)
    for dep in sorted(needed - existing):
        cr.execute(
            "INSERT INTO ir_module_module_dependency (module_id, name) VALUES (%s, %s)", (module_id, dep)
        )
    for dep in sorted(existing - needed):
        cr.execute(
            "DELETE FROM ir_module_module_dependency WHERE module_id = %s AND name = %s", (module_id, dep)
        )
    cr.execute(
        "UPDATE ir_module_module_dependency SET auto_install_required = (name = ANY(%s)) "
        "WHERE module_id = %s",
        (list(auto_required), module_id),
    )


def check_module_names(cr, names) -> None:
    """loading._check_module_names: unknown names are only a WARNING, never an error."""
    mod_names = set(names)
    if "base" in mod_names:
        mod_names.discard("all")  # 'all' is only a dummy name next to base
    if not mod_names:
        return
    cr.execute("SELECT name FROM ir_module_module WHERE name = ANY(%s)", (list(mod_names),))
    incorrect = mod_names - {r[0] for r in cr.fetchall()}
    if incorrect:
        _logger.warning("invalid module names, ignored: %s", ", ".join(sorted(incorrect)))


class Modules:
    """A snapshot of both tables; state changes are written back by flush()."""

    def __init__(self, cr, paths: list[str]):
        self.cr, self.paths = cr, paths
        cr.execute("SELECT name, state, auto_install FROM ir_module_module")
        self.state = {}
        self.auto = {}
        for name, state, auto in cr.fetchall():
            self.state[name], self.auto[name] = state, auto
        cr.execute(
            "SELECT m.name, d.name, d.auto_install_required FROM ir_module_module_dependency d "
            "JOIN ir_module_module m ON m.id = d.module_id ORDER BY d.id"
        )
        self.deps: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for name, dep, required in cr.fetchall():
            self.deps[name].append((dep, required))
        self.changed: dict[str, str] = {}

    def dep_state(self, dep: str) -> str:
        return self.state.get(dep, "unknown")  # dependency.state is 'unknown' without a row

    def set_state(self, name: str, state: str) -> None:
        self.state[name] = self.changed[name] = state

    def flush(self) -> None:
        for state in set(self.changed.values()):
            names = [n for n, s in self.changed.items() if s == state]
            self.cr.execute("UPDATE ir_module_module SET state = %s WHERE name = ANY(%s)", (state, names))
        self.changed.clear()

    def check_external_dependencies(self, name: str, newstate: str) -> None:
        problem = manifest.check_external_dependencies(manifest.get_module_info(name, self.paths))
        if problem:
            verb = {"to install": "install", "to upgrade": "upgrade"}.get(newstate, "process")
            raise UserError(
                f'Unable to {verb} module "{name}" because an external dependency is not met: {problem}'
            )

    def _state_update(self, name: str, newstate: str, states: tuple, level: int = 100) -> None:
        if level < 1:
            raise UserError("Recursion error in modules dependencies!")
        if self.state[name] not in states:
            return
        todo = []
        for dep, _ in self.deps[name]:
            if dep not in self.state:
                raise UserError(
                    f"You try to install module {name!r} that depends on module {dep!r}.\n"
                    "But the latter module is not available in your system."
                )
            if self.state[dep] != newstate:
                todo.append(dep)
        for dep in todo:
            self._state_update(dep, newstate, states, level - 1)
        if self.state[name] in states:
            self.check_external_dependencies(name, newstate)
            self.set_state(name, newstate)

    def _must_install(self, name: str) -> bool:
        states = {self.dep_state(dep) for dep, required in self.deps[name] if required}
        return states <= INSTALL_STATES and "to install" in states

    def button_install(self, names: list[str]) -> None:
        todo = list(names)
        while todo:
            for name in todo:
                self._state_update(name, "to install", ("uninstalled",))
            todo = [
                n
                for n in sorted(self.state)
                if self.state[n] == "uninstalled" and self.auto[n] and self._must_install(n)
            ]

    def button_upgrade(self, names: list[str]) -> None:
        """Mark names and every installed module depending on them `to upgrade`."""
        todo = list(names)
        if "base" in names:
            todo += [n for n in sorted(self.state) if self.state[n] == "installed" and n not in todo]
        dependents = defaultdict(list)
        for name, deps in self.deps.items():
            for dep, _ in deps:
                dependents[dep].append(name)
        i = 0
        while i < len(todo):
            name = todo[i]
            i += 1
            if self.state[name] not in ("installed", "to upgrade"):
                raise UserError(f"Can not upgrade module {name!r}. It is not installed.")
            if manifest.get_module_info(name, self.paths).get("installable", True):
                self.check_external_dependencies(name, "to upgrade")
            for dependent in dependents[name]:
                if self.state.get(dependent) == "installed" and dependent not in todo:
                    todo.append(dependent)
        for name in todo:
            self.set_state(name, "to upgrade")
        to_install = []
        for name in todo:
            if not manifest.get_module_info(name, self.paths).get("installable", True):
                continue
            for dep, _ in self.deps[name]:
                if self.dep_state(dep) == "unknown":
                    raise UserError(
                        f"You try to upgrade the module {name} that depends on the module: {dep}.\n"
                        "But this module is not available in your system."
                    )
                if self.dep_state(dep) == "uninstalled":
                    to_install.append(dep)
        self.button_install(to_install)


def reset_modules_state(cfg, dbname: str) -> None:
    """Registry.new's cleanup after a failed load, before the exception is re-raised (exit 255)."""
    with pg.Cursor(cfg, dbname) as cr:
        if not schema.is_initialized(cr):  # the table may not exist if installation failed
            return
        cr.execute(
            "UPDATE ir_module_module SET state = 'installed' WHERE state IN ('to remove', 'to upgrade')"
        )
        cr.execute("UPDATE ir_module_module SET state = 'uninstalled' WHERE state = 'to install'")
        cr.commit()
        _logger.warning("Transient module states were reset")
