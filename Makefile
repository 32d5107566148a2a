# The two commands of the README. Both install what they need on a fresh machine.
.PHONY: run test lint bench lock

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy panel clusters jobs lab && .venv/bin/lint-imports

# Re-pin every dependency (with hashes) after changing pyproject.toml; commit requirements.lock.
lock:
	bash scripts/lock.sh
