#!/bin/sh
# The lab's real Odoo image starts like the official one: HOST, PORT, USER and PASSWORD (or
# PASSWORD_FILE) become the database flags of an `odoo` server command; any other command
# runs as given. A command that starts with a flag is an `odoo` command.
set -e
# PASSWORD_FILE (a Docker secret) gives PASSWORD, as in the official entrypoint (`[ -v PASSWORD_FILE ]`).
if [ -n "${PASSWORD_FILE+set}" ]; then
    PASSWORD="$(cat "$PASSWORD_FILE")"
fi
case "$1" in
    -*) set -- odoo "$@" ;;
esac
if [ "$1" = "odoo" ] && [ "$#" -ge 1 ]; then
    case "$2" in
        scaffold|db|help)  # their own parsers take no server flags at the end
            exec "$@" ;;
    esac
    shift
    exec odoo "$@" \
        --db_host="${HOST:-db}" --db_port="${PORT:-5432}" \
        --db_user="${USER:-odoo}" --db_password="${PASSWORD:-odoo}"
fi
exec "$@"
