"""Cron threads (odoo/service/server.py cron_thread, addons/base/models/ir_cron.py _process_jobs).

Each poll logs `cronN polling for jobs` (DEBUG in Odoo, INFO here so the lab can see which replica
runs crons) and, for every loaded database, records a heartbeat row in standin_cron_run, unless a
module is in a `to %` state: then cron skips the database with Odoo's WARNING.
"""

import logging
import os
import socket
import threading

from . import loading, log, pg

_logger = logging.getLogger("odoo.service.server")
_cron_logger = logging.getLogger("odoo.addons.base.models.ir_cron")


def _interval() -> float:
    return float(os.environ.get("ODOO_STANDIN_CRON_SECONDS", "60"))  # Odoo's SLEEP_INTERVAL


def process_jobs(cfg, dbname: str) -> None:
    log.set_db(dbname)
    try:
        with pg.Cursor(cfg, dbname) as cr:
            cr.execute("SELECT COUNT(*) FROM ir_module_module WHERE state LIKE %s", ("to %",))
            if cr.fetchone()[0]:
                _cron_logger.warning(
                    "Skipping database %s because of modules to install/upgrade/remove.", dbname
                )
                return
            cr.execute(
                "INSERT INTO standin_cron_run (hostname, pid, thread) VALUES (%s, %s, %s)",
                (socket.gethostname(), os.getpid(), threading.current_thread().name),
            )
            cr.commit()
    finally:
        log.set_db(None)


def cron_thread(cfg, number: int, stop: threading.Event) -> None:
    while not stop.wait(_interval() + number / 100):
        _logger.info("cron%d polling for jobs", number)
        for dbname, status in list(loading.REGISTRIES.items()):
            if status != "ready":
                continue
            try:
                process_jobs(cfg, dbname)
            except Exception:
                _logger.warning("cron%d encountered an Exception:", number, exc_info=True)


def spawn(cfg, stop: threading.Event) -> None:
    for i in range(cfg.max_cron_threads):
        name = f"odoo.service.cron.cron{i}"
        threading.Thread(target=cron_thread, args=(cfg, i, stop), name=name, daemon=True).start()
        _logger.debug("cron%d started!", i)
