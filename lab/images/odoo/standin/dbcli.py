"""`odoo db init` (odoo/cli/db.py, 19.0): create a database and install base in one command.

As in Odoo: the connection comes from the options before `init` or from PGHOST/PGUSER/..., an
existing database is refused ("Target database X exists, aborting.", exit 1) unless --force drops it
first, and a failure while initialising is logged as `CREATE DATABASE failed:` with its traceback
while the process still exits 0 (service/db.py _initialize_db catches everything). Then the admin
user gets --username/--password; the language and country are recorded where the stand-in can show
them (ir_config_parameter), the country only when it is a code the stand-in knows.
"""

import argparse
import logging
import sys

from . import config, loading, log, passwords, pg

_logger = logging.getLogger("odoo.service.db")
# A few ISO codes: an unknown one fails like Odoo's `search([('code', 'ilike', cc)])[0]`.
COUNTRIES = {"BE", "CH", "DE", "ES", "FR", "GB", "IT", "LU", "NL", "US"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="odoo db")
    for flag in ("-c", "--config"), ("-D", "--data-dir"), ("--addons-path",), ("-r", "--db_user"):
        p.add_argument(*flag)
    for flag in ("-w", "--db_password"), ("--pg_path",), ("--db_host",), ("--db_port",), ("--db_sslmode",):
        p.add_argument(*flag)
    subs = p.add_subparsers(dest="command")
    init = subs.add_parser("init")
    init.add_argument("database")
    init.add_argument("--with-demo", action="store_true")
    init.add_argument("--force", action="store_true")
    init.add_argument("--language", default="en_US")
    init.add_argument("--username", default="admin")
    init.add_argument("--password", default="admin")
    init.add_argument("--country")
    return p


# The options before `init` and the server flags they become (cli/db.py passes them to parse_config).
SERVER_FLAGS = {
    "config": "--config",
    "data_dir": "--data-dir",
    "addons_path": "--addons-path",
    "db_user": "--db_user",
    "db_password": "--db_password",
    "db_host": "--db_host",
    "db_port": "--db_port",
}


def _server_argv(args: argparse.Namespace) -> list[str]:
    argv = ["-d", args.database, "-i", "base", "--stop-after-init"]
    argv += [f"{flag}={getattr(args, key)}" for key, flag in SERVER_FLAGS.items() if getattr(args, key)]
    if args.with_demo:
        argv.append("--with-demo")
    return argv


def _drop(cfg, name: str) -> None:
    conn = pg.connect(cfg, "postgres", autocommit=True)
    try:
        ident = '"' + name.replace('"', '""') + '"'
        conn.cursor().execute(f"DROP DATABASE {ident}")
    finally:
        conn.close()


def _initialize(cfg, args: argparse.Namespace) -> None:
    loading.new_registry(cfg, args.database, update_module=True)
    with pg.Cursor(cfg, args.database) as cr:
        if args.country and args.country.upper() not in COUNTRIES:
            raise IndexError("tuple index out of range")
        cr.execute(
            "UPDATE res_users SET login = %s, password = %s WHERE login = 'admin'",
            (args.username, passwords.hash_password(args.password)),
        )
        settings = [("base.language", args.language)]
        if args.country:
            settings.append(("base.country", args.country.upper()))
        for key, value in settings:
            cr.execute(
                "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )
        cr.commit()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command != "init":
        sys.stderr.write("odoo db: the stand-in implements `init` only\n")
        return 2
    cfg = config.parse(_server_argv(args))
    log.setup("info")
    log.set_db(args.database)
    from .server import create_empty_database, report_configuration  # noqa: PLC0415 (server imports us)

    report_configuration(cfg)
    if pg.database_exists(cfg, args.database):
        if not args.force:
            sys.stderr.write(
                f"Target database {args.database} exists, aborting.\n\n"
                "\tuse `--force` to delete the existing database anyway.\n"
            )
            return 1
        _drop(cfg, args.database)
    _logger.info("Create database `%s`.", args.database)
    create_empty_database(cfg, args.database)
    try:
        _initialize(cfg, args)
    except Exception:
        _logger.exception("CREATE DATABASE failed:")
    return 0
