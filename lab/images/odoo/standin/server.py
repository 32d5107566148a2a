"""`odoo` main (odoo/cli/server.py main, odoo/service/server.py ThreadedServer/PreforkServer.run).

- A database named with -d that does not exist is created and gets base: a typo creates a database.
- --stop-after-init: load/update the databases and exit with preload_registries' code: -1 on a
  failure, i.e. process status 255; everything else exits 0.
- Otherwise: the HTTP server starts first (health answers while modules load), then the databases
  are loaded, then the cron threads; SIGTERM/SIGINT end the process promptly with status 0.
"""

import logging
import os
import signal
import socket
import sys
import threading

from . import MAJOR, SERIES, config, crons, dbcli, httpd, loading, log, neutralize, pg, sessions

_logger = logging.getLogger("odoo")
_server_logger = logging.getLogger("odoo.service.server")
_sql_logger = logging.getLogger("odoo.sql_db")

STOP = threading.Event()
_serving = False


def _on_signal(signum, frame) -> None:
    if STOP.is_set() or not _serving:
        # Mid-load there is no graceful path (Odoo's KeyboardInterrupt skips the state reset):
        # leave now, whatever the module states are.
        _server_logger.info("Initiating shutdown")
        sys.stderr.flush()
        os._exit(0)
    _server_logger.info("Initiating shutdown")
    _server_logger.info("Hit CTRL-C again or send a second signal to force the shutdown.")
    STOP.set()


def report_configuration(cfg) -> None:
    _logger.info("Odoo version %s", f"{SERIES}-standin")
    if os.path.isfile(cfg.rcfile):
        _logger.info("Using configuration file at %s", cfg.rcfile)
    paths = cfg.all_addons_paths
    _logger.info("addons paths: %s", f"_NamespacePath({paths})" if MAJOR >= 19 else paths)
    host = cfg.db_host or os.environ.get("PGHOST", "default")
    port = cfg.db_port or os.environ.get("PGPORT", "default")
    user = cfg.db_user or os.environ.get("PGUSER", "default")
    _logger.info("database: %s@%s:%s", user, host, port)


def create_empty_database(cfg, name: str) -> bool:
    """service/db.py _create_empty_database; True when created. Connection errors propagate."""
    conn = pg.connect(cfg, "postgres", autocommit=True)
    try:
        cr = conn.cursor()
        cr.execute("SELECT datname FROM pg_database WHERE datname = %s", (name,))
        if cr.fetchall():
            return False  # DatabaseExists: ignored by main()
        ident = '"' + name.replace('"', '""') + '"'
        cr.execute(f"CREATE DATABASE {ident} ENCODING 'unicode' LC_COLLATE 'C' TEMPLATE \"template0\"")
        return True
    except pg.ProgrammingError as exc:
        if pg.sqlstate(exc) == "42501":  # insufficient privilege
            _logger.info("Could not determine if database %s exists, skipping auto-creation.", name)
        elif pg.sqlstate(exc) != "42P04":  # 42P04: created meanwhile by someone else
            _logger.error("Could not create database %s.", name, exc_info=True)
        return False
    finally:
        conn.close()


def _shutdown_lines() -> None:
    """ThreadedServer.stop() and the connection pool's close, as every real log ends."""
    _server_logger.info("Initiating shutdown")
    _server_logger.info("Hit CTRL-C again or send a second signal to force the shutdown.")
    _sql_logger.info("ConnectionPool(read/write;used=0/count=0/max=64): Closed 1 connections ")


def main(argv: list[str]) -> int:
    global _serving
    if "--version" in argv:  # optparse's version action: "<description> <version>" on stdout
        print(f"Odoo Server {SERIES}")
        return 0
    if argv[:1] == ["db"] and MAJOR >= 19:
        return dbcli.main(argv[1:])
    if argv[:1] == ["neutralize"]:
        return neutralize.main(argv[1:])
    if MAJOR >= 19 and os.name == "posix" and os.geteuid() == 0:
        # cli/server.py check_root_user: the one unformatted line (real logs' first line).
        sys.stderr.write("Running as user 'root' is a security risk.\n")
    try:
        cfg = config.parse(argv)
    except config.UsageError as exc:
        sys.stderr.write(f"Usage: odoo [options]\n\nodoo: error: {exc}\n")
        return 2
    if MAJOR >= 19 and (cfg.db_user or os.environ.get("PGUSER")) == "postgres":
        # cli/server.py check_postgres_user (pguser.log): no newline, exit 1.
        sys.stderr.write("Using the database user 'postgres' is a security risk, aborting.")
        return 1
    log.setup(cfg.log_level)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    report_configuration(cfg)

    for dbname in cfg.db_names:
        if create_empty_database(cfg, dbname):
            cfg.init["base"] = 1

    server_wide = sessions.load_server_wide_modules(cfg)

    if cfg.stop_after_init:
        bound = None
        if cfg.workers > 0 and cfg.http_enable:
            # PreforkServer.start() binds the HTTP port even when stopping: add --no-http.
            bound = socket.create_server((cfg.http_interface or "0.0.0.0", cfg.http_port))  # noqa: S104
        rc = loading.preload_registries(cfg, cfg.db_names)
        if bound:
            bound.close()
        _shutdown_lines()
        return rc

    store = sessions.make_store(cfg, server_wide)
    servers = []
    if cfg.http_enable:
        ports = [cfg.http_port] + ([cfg.gevent_port] if cfg.workers > 0 else [])
        for port in ports:
            server = httpd.serve(cfg, store, port, server_wide)
            threading.Thread(
                target=server.serve_forever, name=f"odoo.service.http.{port}", daemon=True
            ).start()
            servers.append(server)
        _server_logger.info("HTTP service (werkzeug) running on %s:%s", socket.gethostname(), cfg.http_port)
        if cfg.workers > 0:
            _server_logger.info(
                "Evented Service (longpolling) running on %s:%s", socket.gethostname(), cfg.gevent_port
            )
    with loading.REGISTRY_LOCK:
        loading.preload_registries(cfg, cfg.db_names)  # a failure here does not stop the server
    _serving = True
    crons.spawn(cfg, STOP)
    while not STOP.wait(1):
        pass
    for server in servers:
        server.server_close()
    return 0
