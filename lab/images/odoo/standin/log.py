"""Odoo's log format on stderr (odoo/netsvc.py).

`%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s`; the database is
the current thread's `dbname` attribute, else `?`; level 25 prints as INFO.
"""

import logging
import os
import sys
import threading

FORMAT = "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s"
RUNBOT = 25  # odoo.netsvc: logging.addLevelName(25, "INFO")

LEVELS = {
    "debug": logging.DEBUG,
    "debug_sql": logging.DEBUG,
    "debug_rpc": logging.DEBUG,
    "debug_rpc_answer": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "notset": logging.NOTSET,
}


class DBFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.pid = os.getpid()
        record.dbname = getattr(threading.current_thread(), "dbname", "?")
        record.perf_info = getattr(record, "perf_info", "")
        return super().format(record)


def setup(level: str) -> None:
    logging.addLevelName(RUNBOT, "INFO")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(DBFormatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))


def set_db(dbname: str | None) -> None:
    """Name the database in this thread's log lines (Odoo sets threading.current_thread().dbname)."""
    thread = threading.current_thread()
    if dbname is None:
        if hasattr(thread, "dbname"):
            del thread.dbname
    else:
        thread.dbname = dbname
