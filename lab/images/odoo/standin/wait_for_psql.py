"""The official image's wait-for-psql.py: before an `odoo` command, wait for PostgreSQL.

Swarm may start a task on a node whose overlay network cannot reach the database yet (a service new
to that node: its DNS entries and routes arrive seconds later), or while the database task itself
still starts. The official entrypoint absorbs that by trying to connect for up to 30 s; after that it
prints the last error and exits 1, and Odoo never starts. The connection settings are Odoo's own
(command line, then the config file, then HOST/PORT/USER/PASSWORD), read by the stand-in's parser.
"""

import os
import sys
import time

from . import config, pg

TIMEOUT_S = 30.0  # the official entrypoint's --timeout=30


def main(argv: list[str]) -> int:
    """`argv`: the command the entrypoint will run, `odoo` first."""
    try:
        cfg = config.parse(argv[1:])
    except (config.UsageError, SystemExit):
        return 0  # odoo itself reports the usage error
    deadline = time.monotonic() + float(os.environ.get("ODOO_STANDIN_WAIT_S", TIMEOUT_S))
    while True:
        try:
            pg.connect(cfg, "postgres", autocommit=True, timeout=5).close()
            return 0
        except pg.Error as exc:
            if time.monotonic() >= deadline:
                sys.stderr.write(f"Database connection failure: {exc}\n")
                return 1
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
