"""The Odoo stand-in honours the Odoo contracts listed in lab/images/odoo/README.md.

Each test runs lab/images/odoo/odoo as a subprocess against the local PostgreSQL (a throwaway
database, dropped afterwards) and Redis. No Django, no Docker.
"""

import json
import re
import signal
import socket
import subprocess
import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis

from tests.lab.standin_helpers import (
    LOG_LINE,
    PYTHON,
    REDIS_URL,
    ROOT,
    STANDIN,
    Server,
    base_env,
    database_exists,
    db_args,
    drop_database,
    execute,
    free_port,
    login,
    multipart,
    new_db_name,
    query,
    request,
    run,
    states,
    wait_for,
    write_addon,
)

pytestmark = pytest.mark.integration

SESSION_ADDONS = ROOT / "lab" / "images" / "odoo" / "session_addons"


@pytest.fixture
def db():
    name = new_db_name()
    yield name
    drop_database(name)


@pytest.fixture
def addons(tmp_path):
    path = tmp_path / "addons"
    write_addon(path, "x_a", version="17.0.1.0.0", depends=["sale"])
    write_addon(path, "x_b", version="1.0", depends=["x_a"])
    write_addon(path, "x_c", version="1.0", depends=["x_b"])
    return path


def odoo(db, addons, *args, **env):
    """A one-off run, like the panel's update job: --stop-after-init --no-http."""
    data_dir = addons.parent / "data"
    return run([*db_args(db), "--addons-path", str(addons), "--data-dir", str(data_dir), *args], **env)


def one_off(db, addons, *args, **env):
    return odoo(db, addons, "--stop-after-init", "--no-http", *args, **env)


@pytest.fixture
def installed(db, addons):
    """A database with x_c installed, hence x_b, x_a, sale and their dependencies."""
    result = one_off(db, addons, "-i", "x_c")
    assert result.returncode == 0, result.stderr
    return db


def loading_lines(stderr: str) -> list[str]:
    return re.findall(r"INFO \S+ odoo\.modules\.loading: Loading module (\w+) \(\d+/\d+\)", stderr)


# -- CLI, module states, exit codes ----------------------------------------------------------------


def test_a_mistyped_database_is_created_and_gets_base(db, addons):
    assert not database_exists(db)
    result = one_off(db, addons)
    assert result.returncode == 0, result.stderr
    assert database_exists(db)  # the trap: no error, a new empty database
    assert "odoo.modules.loading: init db" in result.stderr
    mods = states(db)
    assert mods["base"] == ("installed", "17.0.1.3")
    assert mods["web"][0] == mods["bus"][0] == "installed"  # auto_install chain
    assert mods["sale"] == ("uninstalled", None)
    assert mods["x_a"] == ("uninstalled", None)  # the addons path is listed too


def test_install_resolves_dependencies_and_prefixes_the_series(installed, addons):
    mods = states(installed)
    for name in ("product", "account", "sale", "x_a", "x_b", "x_c"):
        assert mods[name][0] == "installed", name
    assert mods["x_a"][1] == "17.0.1.0.0"  # already series-prefixed: kept
    assert mods["x_b"][1] == "17.0.1.0"  # adapt_version("1.0")
    assert mods["stock"] == ("uninstalled", None)
    deps = query(
        installed,
        "SELECT d.name FROM ir_module_module_dependency d JOIN ir_module_module m ON m.id = d.module_id "
        "WHERE m.name = 'x_b'",
    )
    assert deps == [("x_a",)]

    # -i only marks uninstalled modules (STEP 2). An installed one named with -i is still flagged
    # `init` in the graph, so Odoo reloads it, and the graph children inheriting the flag.
    again = one_off(installed, addons, "-i", "x_b,stock")
    assert again.returncode == 0
    assert loading_lines(again.stderr) == ["x_b", "x_c", "stock"]  # installed ones first (STEP 3)
    assert states(installed)["x_b"] == ("installed", "17.0.1.0")


def test_log_format_and_markers(installed, addons):
    result = one_off(installed, addons, "-i", "stock")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), result.stderr
    db = re.escape(installed)
    for marker in (
        rf"INFO {db} odoo\.modules\.loading: loading \d+ modules\.\.\.",
        rf"INFO {db} odoo\.modules\.loading: Loading module stock \(\d+/\d+\)",
        rf"INFO {db} odoo\.modules\.loading: Module stock loaded in \d+\.\d\ds, \d+ queries",
        rf"INFO {db} odoo\.modules\.loading: \d+ modules loaded in \d+\.\d\ds, \d+ queries \(\+0 extra\)",
        rf"INFO {db} odoo\.modules\.loading: updating modules list",
        rf"INFO {db} odoo\.modules\.loading: Modules loaded\.",
        rf"INFO {db} odoo\.modules\.registry: Registry loaded in \d+\.\d{{3}}s",
    ):
        assert re.search(marker, result.stderr), marker
    assert loading_lines(result.stderr) == ["stock"]  # modules not being updated log at DEBUG only


def test_update_cascades_to_installed_dependents(installed, addons):
    result = one_off(installed, addons, "-u", "product")
    assert result.returncode == 0, result.stderr
    updated = loading_lines(result.stderr)
    assert set(updated) == {"product", "account", "sale", "x_a", "x_b", "x_c"}
    assert updated.index("product") < updated.index("sale") < updated.index("x_a") < updated.index("x_c")
    assert not [n for n, (s, _) in states(installed).items() if s.startswith("to ")]


def test_update_all_updates_every_installed_module(installed, addons):
    result = one_off(installed, addons, "-u", "all")
    assert result.returncode == 0, result.stderr
    installed_mods = {n for n, (s, _) in states(installed).items() if s == "installed"}
    assert set(loading_lines(result.stderr)) == installed_mods


def test_update_silently_ignores_uninstalled_and_warns_on_unknown_names(installed, addons):
    result = one_off(installed, addons, "-u", "stock")
    assert result.returncode == 0
    assert loading_lines(result.stderr) == []
    assert "WARNING" not in result.stderr  # the trap: nothing says stock was not updated
    assert states(installed)["stock"] == ("uninstalled", None)

    result = one_off(installed, addons, "-u", "no_such_module")
    assert result.returncode == 0
    assert re.search(
        r"WARNING \S+ odoo\.modules\.loading: invalid module names, ignored: no_such_module", result.stderr
    )


def test_a_failing_module_exits_255_resets_states_and_keeps_earlier_modules(installed, addons):
    write_addon(addons, "x_a", version="17.0.1.1.0", depends=["sale"])
    write_addon(addons, "x_c", version="1.1", depends=["x_b"])
    result = one_off(installed, addons, "-u", "x_a", ODOO_STANDIN_FAIL="x_b")
    assert result.returncode == 255, result.stderr
    err = result.stderr
    reset = re.search(r"WARNING \S+ odoo\.modules\.loading: Transient module states were reset", err)
    fatal = re.search(
        rf"CRITICAL {installed} odoo\.service\.server: Failed to initialize database `{installed}`\.", err
    )
    assert reset and fatal and reset.start() < fatal.start()
    assert "Traceback" in err[fatal.start() :]
    assert "Modules loaded." not in err
    mods = states(installed)
    assert not [n for n, (s, _) in mods.items() if s.startswith("to ")]
    assert mods["x_a"] == ("installed", "17.0.1.1.0")  # committed before x_b failed: not atomic
    assert mods["x_c"] == ("installed", "17.0.1.0")  # never reached

    write_addon(addons, "x_d", depends=["x_a"], standin_fail=True)
    result = one_off(installed, addons, "-i", "x_d")
    assert result.returncode == 255
    # Nothing was committed before x_d failed, not even its new ir_module_module row.
    assert states(installed).get("x_d", ("uninstalled", None)) == ("uninstalled", None)


def test_unmet_dependency_skips_the_module_and_its_dependents_with_exit_0(installed, addons):
    write_addon(addons, "x_a", version="17.0.1.0.0", depends=["sale", "ghost"])
    result = one_off(installed, addons)  # a plain restart with the new manifest
    assert result.returncode == 0
    err = result.stderr
    assert re.search(r"INFO \S+ odoo\.modules\.graph: module x_a: Unmet dependencies: ghost", err)
    assert "module x_b: Unmet dependencies: x_a" in err
    assert re.search(
        r"ERROR \S+ odoo\.modules\.loading: Some modules are not loaded, some dependencies or manifest "
        r"may be missing: \['x_a', 'x_b', 'x_c'\]",
        err,
    )

    # -u: the dependency has no ir_module_module row -> UserError, exit 255.
    result = one_off(installed, addons, "-u", "x_a")
    assert result.returncode == 255
    assert "But this module is not available in your system." in result.stderr
    assert states(installed)["x_a"][0] == "installed"


def test_a_dependency_with_code_but_not_installed(installed, addons):
    write_addon(addons, "x_a", version="17.0.1.0.0", depends=["sale", "stock"])
    result = one_off(installed, addons)
    assert result.returncode == 0
    assert "module x_a: Unmet dependencies: stock" in result.stderr
    # -u installs the missing dependency first (button_upgrade), then updates the chain.
    result = one_off(installed, addons, "-u", "x_a")
    assert result.returncode == 0, result.stderr
    assert states(installed)["stock"][0] == "installed"
    assert "Some modules" not in result.stderr


def test_config_file_and_the_official_image_environment(db, addons, tmp_path):
    conf = tmp_path / "odoo.conf"
    conf.write_text(
        f"[options]\naddons_path = {addons}\ndata_dir = {tmp_path / 'data'}\ndb_name = {db}\n"
        "db_password = False\nserver_wide_modules = base,web,session_redis\n"
    )
    host, port = db_args()[1], db_args()[3]
    user = db_args()[5]
    result = run(["-c", str(conf), "--stop-after-init", "-i", "x_a"], HOST=host, PORT=port, USER=user)
    assert result.returncode == 0, result.stderr
    assert f"Using configuration file at {conf}" in result.stderr
    assert f"database: {user}@{host}:{port}" in result.stderr
    assert states(db)["x_a"][0] == "installed"


def test_prefork_stop_after_init_still_binds_the_http_port(installed, addons):
    port = free_port()
    with socket.create_server(("0.0.0.0", port)):  # noqa: S104 - the port the stand-in wants
        busy = odoo(installed, addons, "--workers", "2", "--stop-after-init", "--http-port", str(port))
        assert busy.returncode != 0
        assert "Address already in use" in busy.stderr
        ok = odoo(
            installed, addons, "--workers", "2", "--stop-after-init", "--no-http", "--http-port", str(port)
        )
        assert ok.returncode == 0, ok.stderr


def test_sigterm_mid_update_exits_promptly(installed, addons):
    cmd = [
        PYTHON,
        str(STANDIN),
        *db_args(installed),
        "--addons-path",
        str(addons),
        "--stop-after-init",
        "-u",
        "sale",
    ]
    env = base_env(ODOO_STANDIN_MODULE_SECONDS="30")
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env) as proc:
        for line in proc.stderr:
            if "Loading module sale" in line:
                break
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 10  # a module takes 30 s here


# -- HTTP, sessions, filestore, crons ---------------------------------------------------------------


def test_health_needs_no_session_and_reports_the_database_only_when_asked(installed, tmp_path):
    server = Server(installed, tmp_path / "a")
    try:
        reply = request(server.port, "GET", "/web/health")
        assert reply.status == 200
        assert json.loads(reply.body) == {"status": "pass"}
        assert reply.session_id is None
        assert reply.headers["X-Standin-Host"] == socket.gethostname()
        assert not any((tmp_path / "a" / "sessions").rglob("*"))
        reply = request(server.port, "GET", "/web/health?db_server_status=1")
        assert (reply.status, json.loads(reply.body)["db_server_status"]) == (200, True)
    finally:
        assert server.stop() == 0

    # PostgreSQL unreachable (and no -d): /web/health still passes, db_server_status fails.
    server = Server(None, tmp_path / "b", "--db_port", str(free_port()), ready_marker=None)
    try:
        assert request(server.port, "GET", "/web/health").status == 200
        reply = request(server.port, "GET", "/web/health?db_server_status=1")
        assert reply.status == 500
        assert json.loads(reply.body) == {"status": "fail", "db_server_status": False}
    finally:
        assert server.stop() == 0


def test_file_sessions_make_two_replicas_loop_back_to_login(installed, tmp_path):
    a, b = Server(installed, tmp_path / "a"), Server(installed, tmp_path / "b")
    try:
        assert "HTTP sessions stored in the filesystem" in a.log
        assert request(a.port, "GET", "/web").headers["Location"] == "/web/login"
        wrong = login(a.port, password="nope")
        assert wrong.status == 200 and b"Wrong login/password" in wrong.body

        reply = login(a.port)
        assert (reply.status, reply.headers["Location"]) == (303, "/web")
        sid = reply.session_id
        assert (tmp_path / "a" / "sessions" / sid[:2] / sid).is_file()
        assert request(a.port, "GET", "/web", sid=sid).status == 200

        other = request(b.port, "GET", "/web", sid=sid)  # the other replica has no such session file
        assert (other.status, other.headers["Location"]) == (303, "/web/login")
        assert other.session_id not in (None, sid)  # ...and hands out a new anonymous session
        assert other.headers["X-Standin-Host"] == socket.gethostname()
    finally:
        assert a.stop() == 0
        assert b.stop() == 0


def test_session_redis_shares_sessions_but_not_the_filestore(installed, tmp_path):
    prefix = f"standin-{uuid.uuid4().hex[:8]}"
    url = urlsplit(REDIS_URL)
    env = {
        "ODOO_SESSION_REDIS": "1",
        "ODOO_SESSION_REDIS_HOST": url.hostname or "localhost",
        "ODOO_SESSION_REDIS_PORT": str(url.port or 6379),
        "ODOO_SESSION_REDIS_PREFIX": prefix,
    }
    # No store is built into the stand-in: the image carries session_redis as an addon folder.
    load = ("--load=base,web,session_redis", f"--addons-path={SESSION_ADDONS / '17.0'}")
    a, b = Server(installed, tmp_path / "a", *load, **env), Server(installed, tmp_path / "b", *load, **env)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert f"HTTP sessions stored in Redis with prefix '{prefix}'" in a.log
        sid = login(a.port).session_id
        assert sid and request(b.port, "GET", "/web", sid=sid).status == 200
        # session_redis' own key format (session.py): "session:" + ":" + prefix + ":" + sid
        key = f"session::{prefix}:{sid}"
        assert json.loads(client.get(key))["login"] == "admin"
        assert 0 < client.ttl(key) <= 7 * 24 * 3600

        body, ctype = multipart("ufile", "hello.txt", b"hello filestore", model="res.partner", id="1")
        uploaded = request(
            a.port, "POST", "/web/binary/upload_attachment", sid=sid, body=body, Content_Type=ctype
        )
        assert uploaded.status == 200, uploaded.body
        att_id = json.loads(uploaded.body)[0]["id"]
        assert request(a.port, "GET", f"/web/content/{att_id}", sid=sid).body == b"hello filestore"
        assert list((tmp_path / "a" / "filestore" / installed).rglob("*/*"))
        # Replica b shares the session and the database, not the disk: Odoo answers 500.
        assert request(b.port, "GET", f"/web/content/{att_id}", sid=sid).status == 500
        assert request(b.port, "GET", "/web/content/999999", sid=sid).status == 404
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
        for key in client.scan_iter(f"session::{prefix}:*"):
            client.delete(key)


def test_session_redis_needs_both_the_server_wide_module_and_the_variable(installed, tmp_path):
    server = Server(installed, tmp_path / "a", ODOO_SESSION_REDIS="1")  # no --load
    try:
        assert "HTTP sessions stored in the filesystem" in server.log
    finally:
        assert server.stop() == 0


def test_cron_heartbeats_and_the_module_state_skip(installed, tmp_path):
    fast = {"ODOO_STANDIN_CRON_SECONDS": "0.2"}
    cron = Server(installed, tmp_path / "cron", "--max-cron-threads", "1", **fast)
    web = Server(installed, tmp_path / "web", "--max-cron-threads", "0", **fast)
    try:
        wait_for(lambda: query(installed, "SELECT DISTINCT pid FROM standin_cron_run"))
        time.sleep(0.5)
        pids = {pid for (pid,) in query(installed, "SELECT DISTINCT pid FROM standin_cron_run")}
        assert pids == {cron.proc.pid}
        assert "cron0 polling for jobs" in cron.log and "polling for jobs" not in web.log

        execute(installed, "UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'x_a'")
        skip = (
            rf"WARNING {installed} odoo\.addons\.base\.models\.ir_cron: Skipping database {installed} "
            r"because of modules to install/upgrade/remove\."
        )
        wait_for(lambda: re.search(skip, cron.log))
        before = query(installed, "SELECT count(*) FROM standin_cron_run")
        time.sleep(0.6)
        assert query(installed, "SELECT count(*) FROM standin_cron_run") == before
    finally:
        assert cron.stop() == 0
        assert web.stop() == 0
