# Shared steps of `make run` and `make test`. Every step is idempotent: it checks, then acts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PANEL_REDIS_URL="${PANEL_REDIS_URL:-redis://127.0.0.1:6379/0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  # apt_install PKG... : install the Debian packages that are missing (apt-get update once first).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "need root to install ${missing[*]}" >&2; return 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
  # Install exactly what requirements.lock pins, each file checked against its sha256 (scripts/lock.sh
  # makes the lock from pyproject.toml), then the panel itself without resolving anything again.
  # Reinstall only when either file changed since the last install.
  local stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  say "installing Python dependencies into .venv (requirements.lock, hashes required)"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q --require-hashes -r "$ROOT/requirements.lock"
  "$PY" -m pip install -q --no-deps -e "$ROOT"
  rm -f "$VENV"/.installed-* && touch "$stamp"
}

ensure_redis() {
  if redis-cli -u "$PANEL_REDIS_URL" ping >/dev/null 2>&1; then return 0; fi
  apt_install redis-server redis-tools
  say "starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/panel.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "Redis did not start; see /var/log/redis/panel.log" >&2; return 1
}

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return 0; fi
  apt_install postgresql
  say "starting PostgreSQL on 127.0.0.1:5432"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 50); do pg_isready -h 127.0.0.1 -p 5432 -q && return 0; sleep 0.2; done
  echo "PostgreSQL did not start" >&2; return 1
}

ensure_engine() {
  # The Docker engine and the lab's tools; lab/install-engine.sh starts dockerd if it is down.
  bash "$ROOT/lab/install-engine.sh"
}
