#!/usr/bin/env bash
# `make test`: install what is missing, start the services, run every check and the whole suite.
# Nothing skips: a missing service fails the run.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_postgres
ensure_redis
ensure_engine
apt_install docker-compose
apt_install chromium fonts-dejavu-core
apt_install prometheus  # promtool and a real Prometheus for tests/metrics (the package starts no service here)

export PANEL_DATABASE_URL="${PANEL_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/panel}"
PANEL_TEST_PROCESSES="${PANEL_TEST_PROCESSES:-3}"

say "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
say "mypy"
"$VENV/bin/mypy" panel clusters jobs lab
say "import contracts (pyproject.toml: the layers, and no circles)"
"$VENV/bin/lint-imports"
say "django checks"
"$PY" manage.py check
"$PY" manage.py makemigrations --check --dry-run
PANEL_MODE=production PANEL_SECRET_KEY="$(printf 'x%.0s' $(seq 60))-check-only" PANEL_ENCRYPTION_KEY="$(printf 'y%.0s' $(seq 40))-check-only" \
  PANEL_ALLOWED_HOSTS=panel.example.com "$PY" manage.py check --deploy --fail-level WARNING
if [ $# -gt 0 ]; then  # what was asked for, in one process
  say "pytest $*"
  exec "$VENV/bin/pytest" "$@"
fi
# The whole suite in two parts (tests/conftest.py says why): in parallel, then the `serial` tests
# alone. The lab tests mostly wait on Swarm, so more processes than CPUs still shorten the run.
# PANEL_TEST_ORDER=random shuffles the tests across files (pytest-random-order prints its seed;
# replay one with PANEL_TEST_ORDER=SEED): proof that no test leans on another having run first.
order=()
case "${PANEL_TEST_ORDER:-}" in
  "") ;;
  random) order=(--random-order-bucket=global) ;;
  *) order=(--random-order-bucket=global --random-order-seed="$PANEL_TEST_ORDER") ;;
esac
say "pytest, in $PANEL_TEST_PROCESSES processes"
status=0
"$VENV/bin/pytest" -n "$PANEL_TEST_PROCESSES" --dist loadfile -m "not serial" "${order[@]}" || status=$?
say "pytest, the serial tests"
"$VENV/bin/pytest" -m serial "${order[@]}" || status=$?
exit "$status"
