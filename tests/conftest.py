"""Shared fixtures: the real services every run needs, and one persona per role.

The suite runs against PostgreSQL and Redis over real connections (make test sets
PANEL_DATABASE_URL). If either is missing the run fails here, loudly: a skipped integration
test is a hidden failure.

Jobs, their broker and their live logs use one private redis-server for the whole session (a
random loopback port): a test may kill and restart it, and nothing a test enqueues can reach a
`make run` worker on the shared Redis. One instance only: folders that each made their own left
Celery pointed at whichever started last, so jobs went to a broker no worker listened on.

`make test` runs the suite in two parts: most of it in parallel processes (pytest-xdist, a file per
process at a time: the lab tests mostly wait on Swarm), then the `serial` tests alone, those that
take the lab down or kill or drain a node under everyone's feet. Each parallel process has its own
test database (pytest-django), private Redis and workers, and its own database on the shared Redis
for the cache and live logs: a `cache.clear()` or a job id in one must not reach another.
"""

import os

import pytest
import redis
from django.conf import settings

# The session-wide Swarm lab fixture `lab`, for every suite that needs real engines.
pytest_plugins = ["lab.pytest_fixture"]


def pytest_configure(config):  # type: ignore[no-untyped-def]
    # Password hashing at production strength costs ~0.5 s per user; personas make four per test.
    if config.pluginmanager.hasplugin("django"):
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        _isolate_parallel_process(os.environ.get("PYTEST_XDIST_WORKER", ""))


#: Fixtures that bring up a real engine; a test that talks to an engine asks for one of them, so it
#: passes alone, first, or shuffled, on a machine that never ran the suite.
ENGINE_FIXTURES = {"lab": "integration", "docker_engine": "integration"}


def marker_mismatches(items: list[pytest.Item]) -> list[str]:
    """Tests whose markers do not say what they use: `lab` marks exactly the tests that use the
    `lab` fixture (the parallel run orders by it and `-m "not lab"` must mean no Swarm), and a test
    that uses a real engine is marked `integration`."""
    wrong = []
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        marked = {mark.name for mark in item.iter_markers()}
        if ("lab" in used) != ("lab" in marked):
            wrong.append(
                f"{item.nodeid}: {'uses' if 'lab' in used else 'does not use'} the lab fixture "
                f"but is {'not ' if 'lab' not in marked else ''}marked lab"
            )
        for fixture, marker in ENGINE_FIXTURES.items():
            if fixture in used and marker not in marked:
                wrong.append(f"{item.nodeid}: uses {fixture} but is not marked {marker}")
        if "serial" in marked and "lab" not in marked:
            wrong.append(f"{item.nodeid}: marked serial (it disturbs the lab) but does not use the lab")
    return wrong


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers must match what tests use (a mismatch fails the run before any test starts). In a
    parallel run, the files that use the lab go out first: they are the long ones (a minute or
    more each, mostly waiting on Swarm), and the quick ones fill the gaps around them."""
    wrong = marker_mismatches(items)
    if wrong:
        raise pytest.UsageError("markers that do not match the fixtures used:\n  " + "\n  ".join(wrong))
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    lab_files = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("lab")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in lab_files)  # stable: order kept inside


#: How much of a failed job's log a failing lab test shows (its end: where the cause is).
FAILED_JOB_LINES = 60


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """A lab test that fails shows the end of the log of every job that failed while it ran: a
    deploy that failed once in a from-scratch run must say why in CI's output, not only `failed`."""
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not report.failed or not item.get_closest_marker("lab"):
        return
    for title, text in _failed_job_logs(call.start):
        report.sections.append((title, text))


def _failed_job_logs(since: float) -> list[tuple[str, str]]:
    from datetime import UTC, datetime

    try:
        from jobs.models import Job

        jobs = Job.objects.filter(state="failed", created_at__gte=datetime.fromtimestamp(since, UTC))
        shown = []
        for job in jobs.order_by("pk"):
            last = job.lines.order_by("-seq").values_list("text", flat=True)[:FAILED_JOB_LINES]
            title = f"failed job {job.pk} ({job.kind}, {job.site_id and job.site.slug}): {job.error}"
            shown.append((title, "\n".join(reversed(last))))
        return shown
    except Exception as exc:  # noqa: BLE001 - a report's extra must never hide the failure itself
        return [("failed jobs", f"could not read them: {exc!r}")]


def _isolate_parallel_process(worker: str) -> None:
    """In a parallel process gwN, the shared Redis's database 10+N serves the cache and live logs,
    and temporary files go to a folder of its own (tests check that nothing is left in it), here
    and in every worker or server the process starts (they inherit the environment)."""
    if not worker.startswith("gw"):
        return
    import tempfile

    from django.test.utils import override_settings

    tmp = os.path.join(tempfile.gettempdir(), f"panel-tests-{worker}")
    os.makedirs(tmp, exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = tmp

    # PANEL_TEST_REDIS_FIRST_DB moves the range, so that two suites on one machine stay apart.
    first = int(os.environ.get("PANEL_TEST_REDIS_FIRST_DB", "10"))
    url = settings.REDIS_URL.rpartition("/")[0] + f"/{first + int(worker[2:])}"
    os.environ["PANEL_REDIS_URL"] = os.environ["PANEL_JOB_LOG_REDIS_URL"] = url
    cache = {**settings.CACHES["default"], "LOCATION": url}
    # override_settings (left on for the session) also resets the cache handler already set up.
    override_settings(REDIS_URL=url, JOB_LOG_REDIS_URL=url, CACHES={"default": cache}).enable()


@pytest.fixture(scope="session", autouse=True)
def real_services(request):  # type: ignore[no-untyped-def]
    if not request.config.pluginmanager.hasplugin("django"):
        return  # `-p no:django` while developing a pure module; make test always has the plugin
    request.getfixturevalue("django_db_setup")
    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    if "postgresql" not in vendor:
        pytest.fail(f"the suite needs PostgreSQL (set PANEL_DATABASE_URL); it got {vendor}", pytrace=False)
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"the suite needs Redis at {settings.REDIS_URL}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """The host's Docker engine, installed and running (not necessarily in Swarm mode): for tests
    that start engines of their own. Tests that need the Swarm ask for `lab` instead."""
    from lab import daemon as engine

    engine.install()


@pytest.fixture(scope="session")
def private_redis():  # type: ignore[no-untyped-def]
    from tests.jobs.services import RedisServer

    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture(scope="session", autouse=True)
def _celery_to_private_redis(request):  # type: ignore[no-untyped-def]
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from panel.celery import app

    server = request.getfixturevalue("private_redis")
    app.conf.broker_url = server.url(1)
    app.conf.result_backend = server.url(1)
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    yield


@pytest.fixture(scope="session")
def test_db_url(django_db_setup):  # type: ignore[no-untyped-def]
    from tests.jobs.services import database_url

    return database_url(settings.DATABASES["default"])


@pytest.fixture(autouse=True)
def _clean_cache(request):  # type: ignore[no-untyped-def]
    # Login throttling and job locks live in the cache; one test must not lock out the next.
    if request.config.pluginmanager.hasplugin("django"):
        from django.core.cache import cache

        cache.clear()
    yield


@pytest.fixture
def personas(db):  # type: ignore[no-untyped-def]
    from tests.personas import make_personas

    return make_personas()
