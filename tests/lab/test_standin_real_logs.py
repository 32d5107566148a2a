"""The stand-in at series 19 against the real Odoo 19.0 logs in ../shared/data/odoo-19-logs.

Each shared log's scenario (its README: command and exit code) is run on the stand-in as a subprocess
against the local PostgreSQL, and the exit code and the lines that matter (level, logger, wording,
order) are compared with the real file, read in place. A missing folder fails: the logs are the oracle.
"""

import os
import re

import pytest

from tests.lab.standin_helpers import (
    ROOT,
    Server,
    db_args,
    drop_database,
    ensure_odoo_role,
    login,
    new_db_name,
    query,
    request,
    run,
    states,
    write_addon,
)

pytestmark = pytest.mark.integration

LOGS = ROOT.parent / "shared" / "data" / "odoo-19-logs"
SESSION_ADDONS = ROOT / "lab" / "images" / "odoo" / "session_addons"
S19 = {"ODOO_STANDIN_SERIES": "19.0"}
RAISE = 'raise RuntimeError("broken_mod: deliberate import failure")\n'

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) ([\w.]+): (.*)$"
)
# The lines that matter to the panel (its log judge and its health probes), in the order they come.
MATTERS = re.compile(
    r"updating modules list|invalid module names|Loading module (base|dep_mod|broken_mod|mail) "
    r"|some depends are not loaded|its direct/indirect dependency is skipped|Some modules are not loaded"
    r"|Some modules have inconsistent states|Couldn't load module|Transient module states were reset"
    r"|Failed to load registry|Failed to initialize database|Modules loaded\.|Registry loaded in"
    r"|Initiating shutdown|incompatible version|Failed to load server-wide module|HTTP service \(werkzeug\)"
    r"|Exception during request handling|\" [1-5]\d\d -"
)
# Unformatted lines that matter: the first line, the refusals, the exceptions' last lines.
BARE = re.compile(
    r"^(Running as user 'root' is a security risk\.|Using the database user 'postgres' is a security risk, "
    r"aborting\.|odoo\.exceptions\.UserError: .*|But this module is not available in your system\.|"
    r"RuntimeError: .*|TypeError: .*)$"
)


def normalize(message: str) -> str:
    message = re.sub(r"`[\w]+`\.", "`DB`.", message)  # Failed to initialize database `db_b`.
    message = re.sub(r" \(\d+/\d+\)", "", message)  # Loading module X (2/16)
    message = re.sub(r"in \d+\.\d+s", "in Ts", message)
    message = re.sub(r"running on \S+", "running on HOST", message)
    request_line = re.match(r'\S+ - - \[[^]]+\] "(\w+) (\S+) HTTP/1\.1" (\d+) -', message)
    if request_line:
        return " ".join(request_line.groups())
    return message.rstrip()


def markers(text: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            level, _db, logger, message = m.groups()
            if MATTERS.search(message):
                out.append((level, logger, normalize(message)))
        elif BARE.match(line):
            if line.startswith("Running as user") and os.geteuid() != 0:
                continue
            out.append(("-", line))
    return out


def real(name: str) -> str:
    path = LOGS / name
    if not path.is_file():  # never skip: the comparison is the point
        raise AssertionError(f"real Odoo 19 log missing: {path} (../shared/data/odoo-19-logs)")
    return path.read_text()


def readme_exit(name: str) -> int | None:
    for line in real("README.md").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[1] == name:
            return None if cells[3] == "-" else int(cells[3])
    raise AssertionError(f"{name} is not in the README's table")


def assert_like(name: str, stderr: str, rc: int | None = None, probe: int | None = None) -> None:
    """probe: the status of the helper's own readiness request to /web/health, left out (with the
    error lines a 500 brings) since the real runs made only the requests their README names."""
    if rc is not None:
        assert rc == readme_exit(name), f"{name}: exit {rc}\n{stderr}"
    want, got = markers(real(name)), markers(stderr)
    if probe is not None:
        first = got.index(("INFO", "werkzeug", f"GET /web/health {probe}"))
        del got[first - (2 if probe >= 500 else 0) : first + 1]
    assert got == want, f"{name}: markers differ\nreal:     {want}\nstand-in: {got}\n\n{stderr}"


@pytest.fixture(scope="module", autouse=True)
def _logs_exist():
    assert LOGS.is_dir(), f"{LOGS} is missing: the real Odoo 19 logs are the oracle"


@pytest.fixture
def site(tmp_path):
    """A 19 database with base installed and an addons path holding dep_mod and broken_mod."""
    role = ensure_odoo_role()
    db = new_db_name()
    addons = tmp_path / "addons"
    write_addon(addons, "dep_mod", depends=["base"])
    write_addon(addons, "broken_mod", depends=["base"])
    # An auto-install module that follows mail, like the 13 that came with mail on real 19.
    write_addon(addons, "mail_follower", depends=["mail"], auto_install=True)

    def odoo(*args: str, http: bool = False, **env: str):
        extra = [] if http else ["--stop-after-init", "--no-http"]
        base = [*db_args(db, role), "--addons-path", str(addons), "--data-dir", str(tmp_path / "data")]
        return run([*base, *extra, *args], **{**S19, **env})

    first = odoo("-i", "base")
    assert first.returncode == 0, first.stderr
    yield db, addons, odoo, role
    drop_database(db)


def install_both(odoo) -> None:
    result = odoo("-i", "dep_mod,broken_mod")
    assert result.returncode == 0, result.stderr


# -- the scenarios of the shared logs ------------------------------------------------------------------


def test_a2_install_extra(site):
    db, _addons, odoo, _ = site
    result = odoo("-i", "dep_mod,broken_mod")
    assert_like("a2_install_extra.log", result.stderr, result.returncode)
    assert states(db)["dep_mod"][0] == states(db)["broken_mod"][0] == "installed"


@pytest.mark.parametrize(("log", "modules"), [("a3_update_base.log", "base"), ("d1_update_all.log", "all")])
def test_a3_update_base_and_d1_update_all(site, log, modules):
    _db, _addons, odoo, _ = site
    install_both(odoo)
    result = odoo("-u", modules)
    assert_like(log, result.stderr, result.returncode)


def test_a4_plain_boot(site):
    _db, _addons, odoo, _ = site
    install_both(odoo)
    result = odoo()
    assert_like("a4_plain_boot.log", result.stderr, result.returncode)


@pytest.mark.parametrize(
    ("log", "args"), [("b1_update_broken.log", ["-u", "broken_mod"]), ("b2_plain_boot_broken.log", [])]
)
def test_b_broken_code(site, log, args):
    db, addons, odoo, _ = site
    install_both(odoo)
    (addons / "broken_mod" / "__init__.py").write_text("# its Python raises on import\n" + RAISE)
    result = odoo(*args)
    assert_like(log, result.stderr, result.returncode)
    assert not [n for n, (s, _) in states(db).items() if s.startswith("to ")]


@pytest.mark.parametrize(
    ("log", "depends"),
    [
        ("c1_update_dep_nonexistent.log", ["base", "nonexistent_dep"]),
        ("c3_update_dep_mail_and_nonexistent.log", ["base", "mail", "nonexistent_dep"]),
    ],
)
def test_c_update_with_a_dependency_missing_from_the_path(site, log, depends):
    db, addons, odoo, _ = site
    install_both(odoo)
    write_addon(addons, "dep_mod", depends=depends)
    result = odoo("-u", "dep_mod")
    assert_like(log, result.stderr, result.returncode)
    assert states(db)["mail"][0] == "uninstalled"  # c3: mail stays uninstalled
    assert states(db)["dep_mod"][0] == "installed"


def test_c4_plain_boot_with_a_missing_dependency(site):
    db, addons, odoo, _ = site
    install_both(odoo)
    write_addon(addons, "dep_mod", depends=["base", "nonexistent_dep"])
    result = odoo()
    assert_like("c4_plain_boot_dep_nonexistent.log", result.stderr, result.returncode)
    assert "Unmet dependencies" not in result.stderr  # the 16-18 wording does not exist in 19
    assert states(db)["dep_mod"][0] == "installed"  # the silent drop: still `installed`


def boot_part(markers_: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The markers of a boot up to its registry load, without the HTTP lines around it."""
    boot = [m for m in markers_ if not (m[1:2] == ("werkzeug",) or "HTTP service" in m[-1])]
    end = next(i for i, m in enumerate(boot) if m[-1].startswith("Registry loaded in"))
    return boot[: end + 1]


@pytest.mark.parametrize(
    ("log", "depends"),
    [("a4_plain_boot.log", ["base"]), ("c4_plain_boot_dep_nonexistent.log", ["base", "nonexistent_dep"])],
)
def test_a_web_replica_without_d_loads_its_registry_at_the_first_health_check(site, tmp_path, log, depends):
    # The panel starts its web replicas with --db-filter and no -d: nothing is preloaded, and the
    # first request (the healthcheck's /web/health) opens the one database the filter lets through,
    # logging what a plain boot logs (a4, c4), before its access line.
    db, addons, odoo, role = site
    install_both(odoo)
    write_addon(addons, "dep_mod", depends=depends)
    server = Server(
        None,
        tmp_path / "w",
        f"--addons-path={addons}",
        f"--db-filter=^{db}$",
        "--no-database-list",
        ready_marker="HTTP service (werkzeug)",
        db_user=role,
        **S19,
    )
    try:
        assert request(server.port, "GET", "/web/health").status == 200
    finally:
        assert server.stop() == 0
    text = server.log
    assert text.index("HTTP service (werkzeug)") < text.index("Registry loaded in")
    assert text.index("Registry loaded in") < text.index('"GET /web/health HTTP/1.1" 200')
    assert text.count("Registry loaded in") == 1  # loaded once, by the first request
    assert boot_part(markers(text)) == boot_part(markers(real(log))), text


def test_d2_update_of_an_uninstalled_module_is_silent(site):
    db, _addons, odoo, _ = site
    install_both(odoo)
    result = odoo("-u", "mail")
    assert_like("d2_update_uninstalled_mail.log", result.stderr, result.returncode)
    assert "WARNING" not in result.stderr
    assert states(db)["mail"][0] == "uninstalled"


def test_d3_update_of_an_invalid_name_warns(site):
    _db, _addons, odoo, _ = site
    install_both(odoo)
    result = odoo("-u", "nonexistent_mod")
    assert_like("d3_update_nonexistent_module.log", result.stderr, result.returncode)


def test_e2_http_healthy(site, tmp_path):
    db, addons, _odoo, role = site
    install_both(_odoo)
    server = Server(db, tmp_path / "e2", f"--addons-path={addons}", db_user=role, **S19)
    try:
        reply = request(server.port, "GET", "/web/health")
        assert (reply.status, reply.body) == (200, b'{"status": "pass"}')
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.headers["Cache-Control"] == "no-store"
        reply = request(server.port, "GET", "/web/health?db_server_status=1")
        assert (reply.status, reply.body) == (200, b'{"status": "pass", "db_server_status": true}')
    finally:
        assert server.stop() == 0
    assert_like("e2_http_healthy.log", server.log, probe=200)


def test_g_session_redis_18_on_19_answers_500_to_every_request(site, tmp_path):
    db, addons, _odoo, role = site
    install_both(_odoo)
    server = Server(
        db,
        tmp_path / "g",
        f"--addons-path={addons},{SESSION_ADDONS / '18.0'}",
        "--load=base,web,session_redis",
        ready_status=None,
        db_user=role,
        ODOO_SESSION_REDIS="1",
        **S19,
    )
    try:
        assert request(server.port, "GET", "/web/health").status == 500
        assert request(server.port, "POST", "/web/session/authenticate", body=b"{}").status == 500
        assert request(server.port, "GET", "/odoo").status == 500
    finally:
        assert server.stop() == 0
    assert_like("g_session_redis_enabled1.log", server.log, probe=500)


def test_pguser_refused(site):
    _db, _addons, odoo, _ = site
    result = run([*db_args(None, "postgres"), "--stop-after-init"], **S19)
    assert result.returncode == 1
    assert_like("pguser.log", result.stderr, result.returncode)
    assert result.stderr.endswith("Using the database user 'postgres' is a security risk, aborting.")


def test_every_shared_log_has_a_scenario_here():
    names = {p.name for p in LOGS.glob("*.log")}
    covered = {
        "a2_install_extra.log", "a3_update_base.log", "a4_plain_boot.log", "b1_update_broken.log",
        "b2_plain_boot_broken.log", "c1_update_dep_nonexistent.log", "c3_update_dep_mail_and_nonexistent.log",
        "c4_plain_boot_dep_nonexistent.log", "d1_update_all.log", "d2_update_uninstalled_mail.log",
        "d3_update_nonexistent_module.log", "e2_http_healthy.log", "g_session_redis_enabled1.log",
        "pguser.log",
    }  # fmt: skip
    assert names == covered, f"a shared log without a scenario here: {sorted(names - covered)}"


# -- 19 contracts without a shared log -------------------------------------------------------------------


def test_update_with_a_new_dependency_on_the_path_installs_it_and_its_auto_install_followers(site):
    db, addons, odoo, _ = site
    install_both(odoo)
    write_addon(addons, "dep_mod", depends=["base", "mail"])
    result = odoo("-u", "dep_mod")
    assert result.returncode == 0, result.stderr  # real 19: exit 0, no warning
    assert not re.search(r" (WARNING|ERROR|CRITICAL) ", result.stderr), result.stderr
    mods = states(db)
    assert mods["mail"][0] == mods["mail_follower"][0] == mods["bus"][0] == "installed"
    loaded = re.findall(r"Loading module (\w+) \(", result.stderr)
    assert {"dep_mod", "mail", "mail_follower"} <= set(loaded)


def test_broken_code_in_http_mode_answers_500_to_every_request(site, tmp_path):
    db, addons, odoo, role = site
    install_both(odoo)
    (addons / "broken_mod" / "__init__.py").write_text(RAISE)
    server = Server(
        db,
        tmp_path / "b",
        f"--addons-path={addons}",
        ready_marker="Failed to initialize database",
        ready_status=None,
        db_user=role,
        **S19,
    )
    try:
        for path in ("/web/health", "/web/login", "/odoo"):
            assert request(server.port, "GET", path).status == 500, path
    finally:
        assert server.stop() == 0
    assert server.log.count("Couldn't load module broken_mod") >= 4  # retried by each request


def test_a_load_naming_a_module_the_path_lacks_breaks_every_page(site, tmp_path):
    db, addons, odoo, role = site
    install_both(odoo)
    server = Server(
        db,
        tmp_path / "l",
        f"--addons-path={addons}",
        "--load=base,rpc,web,session_redis",
        db_user=role,
        **S19,
    )
    try:
        assert request(server.port, "GET", "/web/health").status == 200  # the healthcheck stays green
        assert request(server.port, "GET", "/web/login").status == 500
        assert request(server.port, "GET", "/odoo").status == 500
    finally:
        assert server.stop() == 0
    assert re.search(r"CRITICAL \? odoo\.modules\.module: Couldn't load module session_redis", server.log)
    assert re.search(
        r"ERROR \? odoo\.service\.server: Failed to load server-wide module `session_redis`\.", server.log
    )


@pytest.mark.parametrize("series", ["16.0", "17.0", "18.0", "19.0"])
def test_an_unknown_option_exits_2(series):
    result = run(["--no-such-flag", "--stop-after-init"], ODOO_STANDIN_SERIES=series)
    assert result.returncode == 2
    assert "odoo: error: no such option: --no-such-flag" in result.stderr


@pytest.mark.parametrize("flag", ["--no-xmlrpc", "--longpolling-port=8072", "--xmlrpc-port=8069"])
def test_flags_removed_in_19_are_refused_there_and_known_before(flag):
    assert run([flag, "--stop-after-init", "-d", ""], ODOO_STANDIN_SERIES="19.0").returncode == 2
    older = run([flag, "--help"], ODOO_STANDIN_SERIES="17.0")
    assert older.returncode == 0, older.stderr


@pytest.mark.parametrize("series", ["17.0", "19.0"])
def test_every_option_the_panel_renders_is_known(series):
    # clusters/stack: render.py's _odoo and _cron, one_off.py's render_update_task, service_parts.py's
    # odoo_common_args.
    panel = [
        "--load=base,web", "--data-dir=/tmp/x", "--addons-path=/tmp", "--proxy-mode", "--db-filter=^x$",
        "--no-database-list", "--workers=0", "--max-cron-threads=0", "--database=x", "-d", "x", "-u", "x",
        "-i", "x", "--stop-after-init", "--no-http",
    ]  # fmt: skip
    result = run([*panel, "--help"], ODOO_STANDIN_SERIES=series)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("by_name", [False, True])
def test_session_db_shares_a_login_between_two_servers(site, tmp_path, by_name):
    """SESSION_DB_URI as a URI, or as the database's name (what the panel renders: Odoo's db_connect
    reaches a name with Odoo's own --db_* settings, so no password is in the environment)."""
    db, addons, odoo, role = site
    uri = db if by_name else f"postgresql://{role}@{db_args()[1]}:{db_args()[3]}/{db}"
    path = f"--addons-path={addons},{SESSION_ADDONS / '19.0'}"
    load = "--load=base,rpc,web,session_db"
    a = Server(db, tmp_path / "a", path, load, db_user=role, SESSION_DB_URI=uri, **S19)
    b = Server(db, tmp_path / "b", path, load, db_user=role, SESSION_DB_URI=uri, **S19)
    try:
        assert "HTTP sessions stored in PostgreSQL" in a.log
        reply = login(a.port)
        assert (reply.status, reply.headers["Location"]) == (303, "/odoo")
        sid = reply.session_id
        for i in range(20):
            port = (a, b)[i % 2].port
            page = request(port, "GET", "/odoo", sid=sid)
            assert page.status == 200, (i, page.status, page.headers.get("Location"))
        rows = query(db, "SELECT payload FROM http_sessions WHERE sid = %s", (sid,))
        assert rows and '"login": "admin"' in rows[0][0]
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
