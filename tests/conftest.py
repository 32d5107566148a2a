"""Shared fixtures: the real services every run needs, and one persona per role.

The suite runs against PostgreSQL and Redis over real connections (make test sets
PANEL_DATABASE_URL). If either is missing the run fails here, loudly: a skipped integration
test is a hidden failure.

Jobs, their broker and their live logs use one private redis-server for the whole session (a
random loopback port): a test may kill and restart it, and nothing a test enqueues can reach a
`make run` worker on the shared Redis. One instance only: folders that each made their own left
Celery pointed at whichever started last, so jobs went to a broker no worker listened on.
"""

import pytest
import redis
from django.conf import settings

# The session-wide Swarm lab fixture `lab`, for every suite that needs real engines.
pytest_plugins = ["clusters.lab.pytest_fixture"]


def pytest_configure(config):  # type: ignore[no-untyped-def]
    # Password hashing at production strength costs ~0.5 s per user; personas make four per test.
    if config.pluginmanager.hasplugin("django"):
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
