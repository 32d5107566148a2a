#!/bin/sh
# The stand-in image starts like the official one (odoo/docker's entrypoint.sh): an `odoo` command,
# or one that starts with a flag, first waits up to 30 s for PostgreSQL (standin/wait_for_psql.py
# says why); `odoo scaffold` and any other command run as given. The database flags the official
# entrypoint adds from HOST/PORT/USER/PASSWORD are the stand-in's own parser's job (standin/config.py);
# PASSWORD_FILE is read here, as the official entrypoint reads it.
set -e
# PASSWORD_FILE (a Docker secret) gives PASSWORD: the official entrypoint's `[ -v PASSWORD_FILE ]`.
if [ -n "${PASSWORD_FILE+set}" ]; then
    PASSWORD="$(cat "$PASSWORD_FILE")"
    export PASSWORD
fi
case "$1" in
    -*) set -- odoo "$@" ;;
esac
if [ "$1" = "odoo" ] && [ "$2" != "scaffold" ]; then
    PYTHONPATH=/opt/odoo python3 -m standin.wait_for_psql "$@"
fi
exec "$@"
