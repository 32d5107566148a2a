"""The stand-in's `odoo neutralize` does what Odoo 19's does (odoo/cli/neutralize.py and each installed
module's data/neutralize.sql), so the lab can prove the panel's read-back of a neutralized copy
(clusters/stack/db_copy.py NEUTRALIZED_SQL): a local subprocess against the local PostgreSQL."""

import re

import pytest

from clusters.stack.db_copy import NEUTRALIZED_SQL
from tests.lab.standin_helpers import (
    LOG_LINE,
    database_exists,
    db_args,
    drop_database,
    execute,
    new_db_name,
    query,
    run,
    write_addon,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def db():
    name = new_db_name()
    yield name
    drop_database(name)


def odoo(db, addons, *args):
    return run([*args, *db_args(db), "--addons-path", str(addons), "--data-dir", str(addons.parent / "data")])


@pytest.fixture
def production(db, tmp_path):
    """A database with mail installed, configured as production is: a real outgoing mail server used by
    a template, an incoming one, a webhook action; crons as the modules made them, all active."""
    addons = tmp_path / "addons"
    write_addon(addons, "x_hooks", depends=["mail"])
    (addons / "x_hooks" / "data").mkdir()
    (addons / "x_hooks" / "data" / "neutralize.sql").write_text(
        "INSERT INTO ir_config_parameter (key, value) VALUES ('x_hooks.neutralized', '1');\n"
    )
    result = odoo(db, addons, "--stop-after-init", "--no-http", "-i", "x_hooks")
    assert result.returncode == 0, result.stderr
    execute(
        db, "INSERT INTO ir_mail_server (name, smtp_host, smtp_port) VALUES ('out', 'smtp.example.com', 587)"
    )
    execute(db, "INSERT INTO mail_template (name, mail_server_id) SELECT 'invoice', id FROM ir_mail_server")
    execute(db, "INSERT INTO fetchmail_server (name) VALUES ('in')")
    execute(
        db,
        "INSERT INTO ir_act_server (name, state, webhook_url) VALUES ('hook', 'webhook', 'https://x.example')",
    )
    return db, addons


def test_production_as_made_is_not_neutralized(production):
    db, _ = production
    servers, crons, flag = query(db, NEUTRALIZED_SQL)[0]
    assert (servers, flag) == (1, "") and crons >= 2  # portal deletion and the mail queue run


def test_neutralize_switches_off_mail_crons_and_webhooks_and_flags_the_database(production):
    db, addons = production
    result = odoo(db, addons, "neutralize")
    assert result.returncode == 0, result.stderr
    assert all(LOG_LINE.match(line) for line in result.stderr.splitlines()), result.stderr
    assert re.search(rf"INFO \S+ odoo\.cli\.neutralize: Starting {db} database neutralization", result.stderr)
    assert "INFO" in result.stderr and "odoo.modules.neutralize: Neutralization finished" in result.stderr
    assert query(db, NEUTRALIZED_SQL)[0] == (0, 0, "true")  # the panel's own read-back
    assert query(db, "SELECT smtp_host FROM ir_mail_server WHERE active") == [("invalid",)]
    assert query(db, "SELECT cron_name FROM ir_cron WHERE active") == [("Base: Auto-vacuum internal data",)]
    assert query(db, "SELECT mail_server_id FROM mail_template") == [(None,)]
    assert query(db, "SELECT active FROM fetchmail_server") == [(False,)]
    assert query(db, "SELECT webhook_url FROM ir_act_server") == [("neutralization - disable webhook",)]
    assert query(db, "SELECT value FROM ir_config_parameter WHERE key = 'x_hooks.neutralized'") == [("1",)]


def test_stdout_prints_the_sql_of_every_installed_module_and_changes_nothing(production):
    db, addons = production
    result = odoo(db, addons, "neutralize", "--stdout")
    assert result.returncode == 0, result.stderr
    out = result.stdout.strip()
    assert out.startswith("BEGIN;") and out.endswith("COMMIT;")
    assert "database.is_neutralized" in out and "fetchmail_server" in out and "x_hooks.neutralized" in out
    assert query(db, NEUTRALIZED_SQL)[0][2] == ""


def test_a_module_whose_code_is_not_on_the_path_is_skipped_without_a_word(production, tmp_path):
    db, _ = production
    elsewhere = tmp_path / "other-addons"
    write_addon(elsewhere, "x_other")  # a valid addons folder without x_hooks
    result = odoo(db, elsewhere, "neutralize")
    assert result.returncode == 0, result.stderr  # under-neutralized, and Odoo says nothing
    assert query(db, "SELECT count(*) FROM ir_config_parameter WHERE key = 'x_hooks.neutralized'") == [(0,)]
    assert query(db, NEUTRALIZED_SQL)[0] == (0, 0, "true")  # base and mail are Odoo's own: still there


def test_a_failing_statement_neutralizes_nothing(production):
    db, addons = production
    (addons / "x_hooks" / "data" / "neutralize.sql").write_text("UPDATE no_such_table SET x = 1;\n")
    result = odoo(db, addons, "neutralize")
    assert result.returncode == 1
    assert "CRITICAL" in result.stderr and "THE DATABASE IS NOT NEUTRALIZED!" in result.stderr
    servers, _, flag = query(db, NEUTRALIZED_SQL)[0]
    assert (servers, flag) == (1, "")


def test_no_database_or_a_missing_one_is_an_error_and_creates_nothing(tmp_path):
    addons = tmp_path / "addons"
    write_addon(addons, "x_other")
    nothing = run(["neutralize", "--addons-path", str(addons)])
    assert (
        nothing.returncode == 1
        and 'Neutralize command needs a database name. Use "-d" argument' in nothing.stderr
    )
    missing = new_db_name()
    result = odoo(missing, addons, "neutralize")
    assert result.returncode == 1 and "THE DATABASE IS NOT NEUTRALIZED!" in result.stderr
    assert not database_exists(missing)
