"""The log judge on real Odoo 19.0 logs (../shared/data/odoo-19-logs, read in place): every shared log
gets the verdict its run deserves, and `manage.py odoo-log judge` keeps its contract (README, Command line).

The real logs are the oracle. A missing shared folder fails here, loudly: never a skip."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command

from clusters.sites.odoo_log import judge

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT.parent / "shared" / "data" / "odoo-19-logs"


@dataclass(frozen=True)
class Case:
    exit_code: int | None  # None: HTTP mode, stopped after the requests (README: "-")
    mode: str
    modules: tuple[str, ...] | None  # what `-u`/`-i` was given
    ok: bool
    skipped: tuple[str, ...] = ()
    installed: tuple[str, ...] = ()
    failed_modules: tuple[str, ...] = ()
    reason: str = ""  # a piece of text one of the reasons must hold


# One row per row of the README's table, with the verdict each run deserves.
CASES: dict[str, Case] = {
    "a2_install_extra.log": Case(0, "update", ("dep_mod", "broken_mod"), ok=True),
    "a3_update_base.log": Case(0, "update", ("base",), ok=True),
    "a4_plain_boot.log": Case(0, "boot", None, ok=True),
    "b1_update_broken.log": Case(
        255,
        "update",
        ("broken_mod",),
        ok=False,
        failed_modules=("broken_mod",),
        reason="deliberate import failure",
    ),
    "b2_plain_boot_broken.log": Case(
        255, "boot", None, ok=False, failed_modules=("broken_mod",), reason="Failed to initialize database"
    ),
    "c1_update_dep_nonexistent.log": Case(
        255,
        "update",
        ("dep_mod",),
        ok=False,
        failed_modules=("dep_mod",),
        reason="depends on nonexistent_dep",
    ),
    # mail (present, not installed) stays uninstalled: the UserError comes first.
    "c3_update_dep_mail_and_nonexistent.log": Case(
        255,
        "update",
        ("dep_mod",),
        ok=False,
        failed_modules=("dep_mod",),
        reason="depends on nonexistent_dep",
    ),
    "c4_plain_boot_dep_nonexistent.log": Case(
        0, "boot", None, ok=False, skipped=("dep_mod",), reason="some depends are not loaded"
    ),
    "d1_update_all.log": Case(0, "update", ("all",), ok=True),
    # Exit 0 and nothing logged: the update the panel was asked for did not happen.
    "d2_update_uninstalled_mail.log": Case(0, "update", ("mail",), ok=False, reason="not updated: mail"),
    "d3_update_nonexistent_module.log": Case(
        0, "update", ("nonexistent_mod",), ok=False, reason="invalid module names were ignored"
    ),
    "e2_http_healthy.log": Case(None, "boot", None, ok=True),
    "g_session_redis_enabled1.log": Case(
        None, "boot", None, ok=False, skipped=("session_redis",), reason="GET /web/health 500"
    ),
    "pguser.log": Case(1, "boot", None, ok=False, reason="database user 'postgres' is a security risk"),
}


def shared_logs() -> Path:
    if not LOGS.is_dir():
        pytest.fail(
            f"the real Odoo 19 logs are missing at {LOGS} (the CI clone has shared/ beside it)", pytrace=False
        )
    return LOGS


def readme_table() -> dict[str, str]:
    """file -> exit column of the shared README's table."""
    rows = {}
    for line in (shared_logs() / "README.md").read_text().splitlines():
        if m := re.match(r"^\| (?P<file>\S+\.log) \|.*\| *(?P<exit>-|\d+) \|[^|]*\|$", line):
            rows[m["file"]] = m["exit"]
    return rows


def read(name: str) -> list[str]:
    return (shared_logs() / name).read_text().splitlines()


def test_every_shared_log_is_in_the_readme_and_here():  # type: ignore[no-untyped-def]
    on_disk = {p.name for p in shared_logs().glob("*.log")}
    table = readme_table()
    assert set(table) == on_disk, "the shared README's table and the folder disagree"
    assert set(CASES) == on_disk, f"judge every shared log: missing {sorted(on_disk - set(CASES))}"
    for name, case in CASES.items():
        assert table[name] == ("-" if case.exit_code is None else str(case.exit_code)), name


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_log_verdict(name):  # type: ignore[no-untyped-def]
    case = CASES[name]
    verdict = judge(case.exit_code or 0, read(name), mode=case.mode, modules=case.modules)
    assert verdict.ok is case.ok, verdict.reasons
    assert (verdict.reasons == []) is case.ok
    assert verdict.skipped == list(case.skipped)
    assert verdict.installed == list(case.installed)
    assert verdict.failed_modules == list(case.failed_modules)
    if case.reason:
        assert any(case.reason in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_log_verdict_without_the_modules(name):  # type: ignore[no-untyped-def]
    """Without --modules the judge still fails every run that went wrong, but an `-u` that Odoo
    silently ignored (d2) cannot be told from a success: nothing in its log says it."""
    case = CASES[name]
    verdict = judge(case.exit_code or 0, read(name), mode=case.mode)
    assert verdict.ok is (case.ok or name == "d2_update_uninstalled_mail.log"), verdict.reasons


# --- An update that installs modules nobody asked for (seen on real 19) ------------------------
# No real log of it is shared (the README's table has none): this one is made from d2's lines
# (a real 19 `-u`) and what real 19 was seen to do: `-u dep_mod` whose new manifest depends on
# mail (on the path, not installed) installs mail and auto-install modules, and exits 0. Odoo
# loads by (depth, name): a new dependency before dep_mod, its followers before or after it.

INSTALLED_BEFORE = [
    "base",
    "broken_mod",
    "dep_mod",
    "rpc",
    "web",
    "api_doc",
    "auth_totp",
    "base_import",
    "base_import_module",
    "base_setup",
    "bus",
    "web_tour",
    "auth_passkey",
    "html_editor",
    "iap",
    "web_unsplash",
]


def update_log(loaded: list[str]) -> list[str]:
    lines = read("d2_update_uninstalled_mail.log")
    at = next(i for i, line in enumerate(lines) if "loading 16 modules" in line)
    total = 16 + len(loaded)
    stamp = "2026-12-06 01:14:20,100 28659 INFO db_d2 odoo.modules.loading: "
    made = [f"{stamp}loading {total} modules... "]
    for index, name in enumerate(loaded, 17):
        made += [
            f"{stamp}Loading module {name} ({index}/{total}) ",
            f"{stamp}Module {name} loaded in 0.10s, 35 queries (+35 other) ",
        ]
    return lines[:at] + made + lines[at + 1 :]


SILENT_INSTALL = ["mail", "auth_signup", "dep_mod", "mail_bot", "sms"]


def test_update_that_installs_unasked_modules_fails_naming_them():  # type: ignore[no-untyped-def]
    log = update_log(SILENT_INSTALL)
    verdict = judge(0, log, modules=["dep_mod"])
    # Loaded before dep_mod: proven installs (a module depending on dep_mod loads after it).
    assert not verdict.ok and verdict.installed == ["mail", "auth_signup"]
    assert "nobody asked for: mail, auth_signup" in verdict.reasons[0]
    assert "mail_bot, sms" in verdict.reasons[0]  # named too, as not proven either way
    # The panel knows what was installed before the run: then every install is named.
    exact = judge(0, log, modules=["dep_mod"], installed_before=INSTALLED_BEFORE)
    assert not exact.ok and exact.installed == ["mail", "auth_signup", "mail_bot", "sms"]


def test_update_of_a_module_and_its_dependents_installs_nothing():  # type: ignore[no-untyped-def]
    log = update_log(["dep_mod", "dep_mod_extra"])  # dep_mod_extra depends on dep_mod: updated too
    assert judge(0, log, modules=["dep_mod"]).ok
    assert judge(0, log, modules=["dep_mod"], installed_before=[*INSTALLED_BEFORE, "dep_mod_extra"]).ok
    assert judge(0, log).ok
    # An asked module that depends on another asked one: both loaded, nothing installed.
    assert judge(0, update_log(["broken_mod", "dep_mod"]), modules=["dep_mod", "broken_mod"]).ok


# --- The command ------------------------------------------------------------------------------


def run_judge(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a pipeline runs it: its real exit code (argparse exits 2 on bad arguments)."""
    return subprocess.run(
        [sys.executable, "manage.py", "odoo-log", "judge", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def test_command_json_contract_and_exit_codes(tmp_path):  # type: ignore[no-untyped-def]
    logs = shared_logs()
    ok = run_judge(str(logs / "a4_plain_boot.log"), "--exit-code", "0", "--mode", "boot", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "ok": True,
        "reasons": [],
        "skipped": [],
        "installed": [],
        "failed_modules": [],
    }

    skipped = run_judge(
        str(logs / "c4_plain_boot_dep_nonexistent.log"), "--exit-code", "0", "--mode", "boot", "--json"
    )
    assert skipped.returncode == 1, skipped.stderr
    payload = json.loads(skipped.stdout)
    assert list(payload) == ["ok", "reasons", "skipped", "installed", "failed_modules"]
    assert payload["ok"] is False and payload["skipped"] == ["dep_mod"] and payload["reasons"]

    silent = tmp_path / "silent_install.log"
    silent.write_text("\n".join(update_log(SILENT_INSTALL)) + "\n")
    installed = run_judge(str(silent), "--exit-code", "0", "--modules", "dep_mod", "--json")
    assert installed.returncode == 1
    assert json.loads(installed.stdout)["installed"] == ["mail", "auth_signup"]

    failed = run_judge(str(logs / "b1_update_broken.log"), "--exit-code", "255", "--modules", "broken_mod")
    assert failed.returncode == 1 and failed.stdout.startswith("FAILED")
    assert "broken_mod could not be loaded" in failed.stdout


def test_command_bad_input_exits_2_with_one_line(tmp_path):  # type: ignore[no-untyped-def]
    logs = shared_logs()
    missing = run_judge(str(tmp_path / "nope.log"), "--exit-code", "0", "--json")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        f"CommandError: cannot read {tmp_path / 'nope.log'}: No such file or directory"
    ]
    folder = run_judge(str(tmp_path), "--exit-code", "0")
    assert folder.returncode == 2 and "cannot read" in folder.stderr and "Traceback" not in folder.stderr

    a4 = str(logs / "a4_plain_boot.log")
    for bad in (
        ["--exit-code", "0", "--mode", "install"],  # not a mode
        ["--exit-code", "zero"],
        [],  # --exit-code is required
        ["--exit-code", "0", "--modules", "a;b"],
        ["--exit-code", "0", "--modules", ","],
        ["--exit-code", "0", "--mode", "boot", "--modules", "dep_mod"],  # a boot is given no modules
    ):
        done = run_judge(a4, *bad)
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        assert done.stdout == "" and "Traceback" not in done.stderr, bad


def test_call_command_and_every_role(personas):  # type: ignore[no-untyped-def]
    """In process, as a viewer (a judge is a read: every role may run it); a not-ok verdict exits 1."""
    log = str(shared_logs() / "a3_update_base.log")
    out = io.StringIO()
    call_command(
        "odoo-log",
        "--as",
        personas.users["viewer"].username,
        "judge",
        log,
        "--exit-code",
        "0",
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["ok"] is True
    with pytest.raises(SystemExit) as failed:
        call_command("odoo-log", "judge", log, "--exit-code", "255", "--json", stdout=io.StringIO())
    assert failed.value.code == 1
