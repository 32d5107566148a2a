"""Loading a database's modules (odoo/modules/loading.py load_modules, registry.py Registry.new).

Markers and their levels are Odoo's own (`loading N modules...`, `Modules loaded.`, ...). Each module
that is installed or upgraded is committed on its own: updates are not atomic.
"""

import itertools
import logging
import os
import threading
import time

from . import MAJOR, log, manifest, modules, pg, schema
from .graph import Graph

_logger = logging.getLogger("odoo.modules.loading")
# 19 moved the registry to odoo/orm/registry.py, logging as `odoo.registry` (real logs).
_registry_logger = logging.getLogger("odoo.registry" if MAJOR >= 19 else "odoo.modules.registry")
_access_logger = logging.getLogger("odoo.addons.base.models.ir_module")
_server_logger = logging.getLogger("odoo.service.server")

LOADED_STATES = ["installed", "to upgrade", "to remove"]

# Registries loaded in this process: dbname -> "ready" | "uninitialized" (Registry.registries).
REGISTRIES: dict[str, str] = {}
REGISTRY_LOCK = threading.RLock()


class ParseError(Exception):
    """What a broken module raises while its data is loaded (odoo.tools.convert.ParseError)."""


def _module_seconds() -> float:
    return float(os.environ.get("ODOO_STANDIN_MODULE_SECONDS", "0.2"))


def _must_fail(node) -> bool:
    wanted = {n.strip() for n in os.environ.get("ODOO_STANDIN_FAIL", "").split(",") if n.strip()}
    return bool(node.info.get("standin_fail")) or node.name in wanted


def _demo_wanted(cfg, name: str) -> bool:
    # --without-demo=all (16/17), a comma list (18), or a bare flag (19); 19 loads demo only when asked.
    if MAJOR >= 19 and not cfg.with_demo:
        return False
    if cfg.without_demo in (True, "all", "True"):
        return False
    return name not in str(cfg.without_demo or "").split(",")


def _process(cr, cfg, node) -> None:
    """Install or upgrade one module: the stand-in's only 'work' is time, and maybe a failure."""
    time.sleep(_module_seconds())
    if _must_fail(node):
        raise ParseError(
            f"while parsing {node.info['addons_path']}/{node.name}/views/views.xml:1, somewhere inside\n"
            f"stand-in failure requested for module {node.name} (ODOO_STANDIN_FAIL or 'standin_fail')"
        )
    if node.state == "to upgrade":  # refresh the module's info from its manifest
        values = schema.terp_values(node.info)
        sets = ", ".join(f"{k} = %s" for k in values)
        cr.execute(f"UPDATE ir_module_module SET {sets} WHERE id = %s", [*values.values(), node.id])  # noqa: S608
    schema.install_module_data(cr, node.name)
    installing = node.state == "to install" or "init" in node.flags
    demo = node.dbdemo or (installing and _demo_wanted(cfg, node.name))
    cr.execute(
        "UPDATE ir_module_module SET state = 'installed', latest_version = %s, demo = %s, "
        "write_date = now() AT TIME ZONE 'UTC' WHERE id = %s",
        (node.info["version"], demo, node.id),
    )
    cr.commit()  # loading.py load_module_graph: cr.commit() once the module is done


def load_module_graph(cr, cfg, graph: Graph, skip: list[str]) -> tuple[list[str], list[str]]:
    loaded, processed = [], []
    count = len(graph)
    _logger.info("loading %d modules...", count)
    t0, q0 = time.time(), cr.sql_log_count
    for index, node in enumerate(graph, 1):
        if node.name in skip:
            continue
        mt0, mq0 = time.time(), cr.sql_log_count
        needs_update = bool({"init", "update"} & node.flags) or node.state in ("to install", "to upgrade")
        level = logging.INFO if needs_update else logging.DEBUG
        _logger.log(level, "Loading module %s (%d/%d)", node.name, index, count)
        manifest.import_module(node.name, cfg.all_addons_paths)  # load_openerp_module
        if needs_update:
            _process(cr, cfg, node)
            processed.append(node.name)
            node.state = "installed"
            node.flags -= {"init", "update", "demo"}
        loaded.append(node.name)
        queries = cr.sql_log_count - mq0
        _logger.log(
            level,
            "Module %s loaded in %.2fs, %s queries" + (" (+%s other)" if MAJOR >= 19 else ""),
            node.name,
            time.time() - mt0,
            *((queries, queries) if MAJOR >= 19 else (queries,)),
        )
    _logger.log(
        log.RUNBOT,
        "%s modules loaded in %.2fs, %s queries (+%s extra)",
        count,
        time.time() - t0,
        cr.sql_log_count - q0,
        0,
    )
    return loaded, processed


def load_marked_modules(cr, cfg, graph: Graph, states: list[str], loaded: list[str]) -> list[str]:
    processed: list[str] = []
    while True:
        cr.execute("SELECT name FROM ir_module_module WHERE state = ANY(%s) ORDER BY name", (states,))
        module_list = [name for (name,) in cr.fetchall() if name not in graph]
        if not module_list:
            break
        graph.add_modules(cr, module_list)
        _logger.debug("Updating graph with %d more modules", len(module_list))
        more_loaded, more_processed = load_module_graph(cr, cfg, graph, skip=loaded)
        processed.extend(more_processed)
        loaded.extend(more_loaded)
        if not more_processed:
            break
    return processed


def load_modules(cfg, dbname: str, update_module: bool) -> str:
    paths = cfg.all_addons_paths
    with pg.Cursor(cfg, dbname) as cr:
        if not schema.is_initialized(cr):
            if not update_module:
                _logger.error("Database %s not initialized, you can force it with `-i base`", dbname)
                return "uninitialized"
            _logger.info("init db")
            schema.initialize(cr, paths)
            update_module = True
            cfg.init["all"] = 1
            cfg.update["all"] = 1

        if "base" in cfg.update or "all" in cfg.update:
            cr.execute(
                "UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'base' AND state = 'installed'"
            )

        # STEP 1: base, before dependencies can be computed.
        graph = Graph(cfg)
        graph.add_modules(cr, ["base"])
        if not len(graph):
            _logger.critical("module base cannot be loaded! (hint: verify addons-path)")
            raise ImportError("Module `base` cannot be loaded! (hint: verify addons-path)")
        loaded, processed = load_module_graph(cr, cfg, graph, skip=[])

        if update_module:
            _mark_modules(cr, cfg, paths)
        _load_marked_until_done(cr, cfg, graph, loaded, processed, update_module)
        _report_not_loaded(cr, graph)

        cfg.init, cfg.update = {}, {}  # STEP 4: consumed, so a second database is not updated
        cr.commit()
        _logger.info("Modules loaded.")
        if update_module and MAJOR >= 19:
            _registry_logger.info("Registry changed, signaling through the database")
    return "ready"


def _mark_modules(cr, cfg, paths: list[str]) -> None:
    """STEP 2: mark the modules named by -i / -u.

    -i only picks uninstalled modules, -u only installed ones, then cascades to installed dependents.
    """
    _logger.info("updating modules list")
    _allow("update_list", [])
    modules.update_list(cr, paths)
    modules.check_module_names(cr, itertools.chain(cfg.init, cfg.update))
    table = modules.Modules(cr, paths)
    to_install = [n for n in cfg.init if table.state.get(n) == "uninstalled"]
    if to_install:
        _allow("button_install", sorted(to_install))
        table.button_install(to_install)
    to_upgrade = [n for n in cfg.update if table.state.get(n) in ("installed", "to upgrade")]
    if to_upgrade:
        names = ["Base" if n == "base" else n for n in to_upgrade]  # 19 logs display names
        _allow("button_upgrade", names)
        _allow("update_list", names)
        table.button_upgrade(to_upgrade)
        _allow("button_install", [])
    table.flush()
    cr.execute("UPDATE ir_module_module SET state = 'installed' WHERE name = 'base'")


def _load_marked_until_done(
    cr, cfg, graph: Graph, loaded: list[str], processed: list[str], update_module: bool
) -> None:
    """STEP 3: installed modules first, then new ones, until nothing more gets processed.

    Extends `loaded` and `processed` in place.
    """
    previously = -1
    while previously < len(processed):
        previously = len(processed)
        if MAJOR >= 19 and update_module:
            # 19's module graph loads installed and new modules in one pass (ordered by phase):
            # a module whose new dependency is being installed is not skipped first.
            processed += load_marked_modules(cr, cfg, graph, [*LOADED_STATES, "to install"], loaded)
            continue
        processed += load_marked_modules(cr, cfg, graph, LOADED_STATES, loaded)
        if update_module:
            processed += load_marked_modules(cr, cfg, graph, ["to install"], loaded)


def _report_not_loaded(cr, graph: Graph) -> None:
    """Log the modules that should be loaded and are not, and those left half-marked."""
    cr.execute("SELECT name FROM ir_module_module WHERE state = ANY(%s) ORDER BY name", (LOADED_STATES,))
    missing = [name for (name,) in cr.fetchall() if name not in graph]
    if missing:
        _logger.error(
            "Some modules are not loaded, some dependencies or manifest may be missing: %s", missing
        )
    cr.execute("SELECT name FROM ir_module_module WHERE state IN ('to install', 'to upgrade') ORDER BY name")
    stuck = [name for (name,) in cr.fetchall()]
    if stuck:
        _logger.error("Some modules have inconsistent states, some dependencies may be missing: %s", stuck)


def _allow(method: str, names: list[str]) -> None:
    """19 logs every ir.module.module button the loader calls as the superuser (real logs)."""
    if MAJOR >= 19:
        _access_logger.info("ALLOW access to module.%s on %s to user __system__ #1 via n/a", method, names)


def new_registry(cfg, dbname: str, update_module: bool) -> str:
    """Registry.new: on any failure reset the transient states, log, re-raise."""
    t0 = time.time()
    with REGISTRY_LOCK:
        REGISTRIES.pop(dbname, None)
        try:
            try:
                status = load_modules(cfg, dbname, update_module)
            except Exception:
                modules.reset_modules_state(cfg, dbname)
                raise
        except Exception:
            _registry_logger.error("Failed to load registry")
            REGISTRIES[dbname] = "failed"  # retried by the next request that needs it
            raise
        REGISTRIES[dbname] = status
    _registry_logger.info("Registry loaded in %.3fs", time.time() - t0)
    return status


def preload_registries(cfg, dbnames: list[str]) -> int:
    """server.preload_registries: -1 (exit status 255) on the first database that fails."""
    for dbname in dbnames:
        # The thread keeps naming the last database (the shutdown lines carry it in real logs).
        log.set_db(dbname)
        try:
            new_registry(cfg, dbname, update_module=bool(cfg.init or cfg.update))
        except Exception:
            _server_logger.critical("Failed to initialize database `%s`.", dbname, exc_info=True)
            return -1
    return 0


def registry_status(cfg, dbname: str) -> str:
    """The registry of a database, loaded on first use like odoo.registry(db) (no update). One that
    failed is loaded again; so is one of a database not initialized yet: Odoo reloads a registry
    once the database signals a change (check_signaling), which the process that initializes it
    (e.g. the cron with -d on a new database) does at its end."""
    with REGISTRY_LOCK:
        if REGISTRIES.get(dbname, "failed") in ("failed", "uninitialized"):
            new_registry(cfg, dbname, update_module=False)
        return REGISTRIES[dbname]


def failed_registries() -> list[str]:
    return [db for db, status in REGISTRIES.items() if status == "failed"]
