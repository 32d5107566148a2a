"""Browser fixtures: the panel under uvicorn with a real Celery worker (both on the pytest-django test
database and a private Redis, as in tests/jobs), and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import redis

import tests.jobs.runners  # noqa: F401  (the worker includes them too)
from tests.jobs.conftest import _stream_settings  # noqa: F401  (autouse: logs on the private Redis)
from tests.jobs.services import Uvicorn, Worker, service_env

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
AXE = HERE / "vendor" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"


def _env(db_url, redis_server):  # type: ignore[no-untyped-def]
    env = service_env(db_url, redis_server)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright():  # type: ignore[no-untyped-def]
    """Playwright's sync API keeps an event loop in the test thread, which Django's ORM takes for an
    async context; these tests are synchronous (what pytest-playwright recommends). Switched for this
    folder only, until its browser has closed; the panel's server and worker never get it (_env)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="module")
def panel_server(test_db_url, private_redis):  # type: ignore[no-untyped-def]
    server = Uvicorn(_env(test_db_url, private_redis)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def panel_worker(test_db_url, private_redis):  # type: ignore[no-untyped-def]
    redis.Redis.from_url(private_redis.url(1)).flushdb()
    started = Worker(_env(test_db_url, private_redis)).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


#: Reports each `securitypolicyviolation` of every document the context opens, to the test process.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation({
  page: location.pathname + location.search, directive: e.violatedDirective, blocked: e.blockedURI,
  at: e.sourceFile + ':' + e.lineNumber, sample: e.sample}));"""
#: Console lines that are a blocked inline style or script, an eval, or htmx refusing one.
CSP_CONSOLE = re.compile(r"Content[- ]Security[- ]Policy|unsafe-eval|evalDisallowed", re.I)


def watch_csp(context, found: list) -> None:  # type: ignore[no-untyped-def]
    """Collect what the panel's Content-Security-Policy blocks, in every tab of the context: the
    browser's violation events and its console messages about them (htmx logs a refused eval).
    A test's own `wait_for_function` takes a function (`"() => ..."`): Playwright evals a bare
    expression in the page at each poll, which the policy refuses too."""
    context.expose_binding("__cspViolation", lambda _source, violation: found.append(violation))
    context.add_init_script(CSP_LISTENER)

    def console(message) -> None:  # type: ignore[no-untyped-def]
        if CSP_CONSOLE.search(message.text):
            found.append({"page": message.page.url if message.page else "", "console": message.text})

    context.on("console", console)


@pytest.fixture
def csp_violations() -> list[dict]:
    return []


@pytest.fixture
def page(browser, panel_server, csp_violations):  # type: ignore[no-untyped-def]
    """A tab in a fresh context; whatever the test does in it, nothing may break the page's
    Content-Security-Policy (checked once the test is done)."""
    context = browser.new_context(base_url=panel_server.base, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    watch_csp(context, csp_violations)
    tab = context.new_page()
    yield tab
    context.close()
    found = json.dumps(csp_violations, indent=1)
    assert csp_violations == [], f"Content-Security-Policy violations:\n{found}"


def make_user(name: str, role: str):  # type: ignore[no-untyped-def]
    """A user the server can log in: PBKDF2 (which the server knows; the test process only hashes MD5)
    at low iterations, so creating one costs nothing."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from panel.roles import assign_role, ensure_role_groups
    from tests.personas import PASSWORD

    ensure_role_groups()
    hasher = PBKDF2PasswordHasher()
    user = get_user_model().objects.create(
        username=name, password=hasher.encode(PASSWORD, hasher.salt(), 1000)
    )
    assign_role(user, role)
    return user


def log_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    from tests.personas import PASSWORD

    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def serious_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core on the current page; the serious and critical violations, summarised."""
    page.evaluate(AXE.read_text())  # not a <script> tag: the page's policy refuses inline scripts
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:160] for n in v["nodes"][:5]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    if found:
        print(json.dumps(found, indent=1))
    return found
