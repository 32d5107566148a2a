"""The stand-in image's entrypoint waits for PostgreSQL like the official image's, run here as a local
subprocess (sh, the stand-in's Python) against the local PostgreSQL and a closed port."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.jobs.services import free_port
from tests.lab.standin_helpers import PG, PYTHON, ROOT, STANDIN, base_env

ENTRYPOINT = ROOT / "lab" / "images" / "odoo" / "entrypoint.sh"


@pytest.fixture(autouse=True)
def odoo_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`odoo` on PATH, as in the image: the stand-in run by its Python."""
    odoo = tmp_path / "odoo"
    odoo.write_text(f'#!/bin/sh\nexec {PYTHON} {STANDIN} "$@"\n')
    odoo.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess:
    # The script runs `python3` and finds the package in /opt/odoo: here, the checkout's copy.
    script = ENTRYPOINT.read_text().replace("/opt/odoo", str(ENTRYPOINT.parent)).replace("python3", PYTHON)
    return subprocess.run(
        ["sh", "-c", script, "entrypoint", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=base_env(**env),
        check=False,
    )


def test_an_odoo_command_runs_once_the_database_answers() -> None:
    flags = ["--db_host", PG["host"], "--db_port", PG["port"], "--db_user", PG["user"]]
    result = entrypoint("odoo", *flags, "--version")
    assert (result.returncode, result.stdout) == (0, "Odoo Server 17.0\n"), result.stderr


def test_an_unreachable_database_ends_the_task_with_the_reason_after_the_wait() -> None:
    closed = free_port()
    started = time.monotonic()
    result = entrypoint("odoo", "--db_host", "127.0.0.1", "--db_port", str(closed), ODOO_STANDIN_WAIT_S="2")
    waited = time.monotonic() - started
    assert (result.returncode, result.stdout) == (1, "")  # odoo never started
    assert result.stderr.startswith("Database connection failure: "), result.stderr
    assert 2 <= waited < 20


def test_other_commands_run_at_once() -> None:
    result = entrypoint("echo", "hello", ODOO_STANDIN_WAIT_S="30")
    assert (result.returncode, result.stdout) == (0, "hello\n")


def test_password_file_gives_the_password_as_the_official_entrypoint_does(tmp_path: Path) -> None:
    """PASSWORD_FILE (a Docker secret) is read into PASSWORD, which the stand-in's parser turns into
    --db_password as the official entrypoint does; an unreadable file stops the task."""
    secret = tmp_path / "db_password"
    secret.write_text("from-the-secret")
    result = entrypoint("sh", "-c", 'echo "$PASSWORD"', PASSWORD_FILE=str(secret))
    assert (result.returncode, result.stdout) == (0, "from-the-secret\n"), result.stderr
    missing = entrypoint("echo", "ran", PASSWORD_FILE=str(tmp_path / "absent"))
    assert missing.returncode != 0 and "ran" not in missing.stdout
