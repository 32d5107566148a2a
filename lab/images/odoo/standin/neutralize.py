"""`odoo neutralize -d DB [--stdout]` (odoo/cli/neutralize.py and odoo/modules/neutralize.py, 16.0+).

As in Odoo: the SQL is each installed module's (installed, to upgrade, to remove) `data/neutralize.sql`
found on the addons path, in the order the modules are listed; a module whose code is not on the path
is skipped without a word, so a copy can be under-neutralized with exit 0. All of it runs in one
transaction: a failing statement leaves nothing neutralized, logs CRITICAL and exits 1. `--stdout`
prints the SQL between BEGIN; and COMMIT; instead. No database given: an error, exit 1; a database
that does not exist is not created (unlike the server).
"""

import logging
import os
import sys

from . import config, log, manifest, pg

_cli_logger = logging.getLogger("odoo.cli.neutralize")
_logger = logging.getLogger("odoo.modules.neutralize")


def installed_modules(cr) -> list[str]:
    cr.execute("SELECT name FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove')")
    return [row[0] for row in cr.fetchall()]


def neutralization_queries(modules: list[str], paths: list[str]) -> list[str]:
    queries = []
    for module in modules:
        path = manifest.module_path(module, paths)
        sql = os.path.join(path, "data", "neutralize.sql") if path else None
        if sql and os.path.isfile(sql):
            with open(sql, encoding="utf-8") as f:
                queries.append(f.read().strip())
    return queries


def main(argv: list[str]) -> int:
    to_stdout = "--stdout" in argv
    try:
        cfg = config.parse([a for a in argv if a != "--stdout"])
    except config.UsageError as exc:
        sys.stderr.write(f"Usage: odoo neutralize [options]\n\nodoo neutralize: error: {exc}\n")
        return 2
    log.setup(cfg.log_level)
    if not cfg.db_names:
        _cli_logger.error('Neutralize command needs a database name. Use "-d" argument')
        return 1
    if len(cfg.db_names) > 1:
        sys.stderr.write("-d/--database/db_name has multiple database, please provide a single one\n")
        return 1
    dbname = cfg.db_names[0]
    if not to_stdout:
        _cli_logger.info("Starting %s database neutralization", dbname)
    try:
        conn = pg.connect(cfg, dbname)
        try:
            cr = conn.cursor()
            queries = neutralization_queries(installed_modules(cr), cfg.all_addons_paths)
            if to_stdout:
                print("BEGIN;\n" + "".join(q.rstrip(";") + ";\n" for q in queries) + "COMMIT;")
            else:
                for query in queries:
                    cr.execute(query)
                conn.commit()
                _logger.info("Neutralization finished")
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - Odoo's own catch-all: whatever failed, nothing was neutralized
        _cli_logger.critical("An error occurred during the neutralization. THE DATABASE IS NOT NEUTRALIZED!")
        return 1
    return 0
