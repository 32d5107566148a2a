#!/usr/bin/env bash
# `make run`: the panel on this machine, ready to use. Embedded defaults: SQLite in var/, the local
# Redis, and (as root, where the machine allows) the local Swarm lab with a deployed demo site.
# Stop with Ctrl-C: the web server, worker and beat stop together; the lab keeps running
# (`python manage.py lab down` removes it).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_redis
mkdir -p var/log

say "database"
"$PY" manage.py migrate --noinput | grep -v '^  Apply' || true
ADMIN_LINE="$("$PY" manage.py users ensure-admin)"

say "workers (jobs, notifications) and beat (logs in var/log/)"
"$VENV/bin/celery" -A panel worker --loglevel INFO --concurrency "${PANEL_WORKERS:-2}" >var/log/worker.log 2>&1 &
WORKER=$!
"$VENV/bin/celery" -A panel worker -Q notify -n notify@%h --loglevel INFO --concurrency 2 >var/log/notify-worker.log 2>&1 &
NOTIFY=$!
"$VENV/bin/celery" -A panel beat --loglevel INFO --schedule var/celerybeat-schedule >var/log/beat.log 2>&1 &
BEAT=$!
trap 'kill $WORKER $NOTIFY $BEAT 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

if [ "${PANEL_LAB:-1}" = "1" ] && [ "$(id -u)" -eq 0 ]; then
  say "Swarm lab and demo site (set PANEL_LAB=0 to skip)"
  if ensure_engine && "$PY" manage.py lab up; then
    "$PY" manage.py demo || echo "the demo site could not be deployed (see above); the panel runs anyway"
  else
    echo "the lab could not start (see above); the panel runs without it"
  fi
fi

HOST="${PANEL_HOST:-127.0.0.1}"
PORT="${PANEL_PORT:-8000}"
say "panel at http://$HOST:$PORT/   $ADMIN_LINE"
"$VENV/bin/uvicorn" panel.asgi:application --host "$HOST" --port "$PORT" --log-level warning
