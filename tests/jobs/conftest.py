"""Fixtures of the job engine tests: a private Redis for streams and broker, uvicorn, a Celery worker."""

from __future__ import annotations

import pytest
import redis

import tests.jobs.runners  # noqa: F401  (registers the test runners and compensation action)
from tests.jobs.services import RedisServer, Uvicorn, Worker, database_url, service_env


@pytest.fixture(scope="session")
def private_redis():  # type: ignore[no-untyped-def]
    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture(scope="session", autouse=True)
def _celery_to_private_redis(private_redis):  # type: ignore[no-untyped-def]
    # Jobs started by these tests go to the private broker: never to a `make run` worker.
    from panel.celery import app

    app.conf.broker_url = private_redis.url(1)
    app.conf.result_backend = private_redis.url(1)
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    yield


@pytest.fixture(autouse=True)
def _stream_settings(settings, private_redis):  # type: ignore[no-untyped-def]
    settings.JOB_LOG_REDIS_URL = private_redis.url(0)
    settings.JOB_HEARTBEAT_SECONDS = 1


@pytest.fixture(scope="session")
def test_db_url(django_db_setup):  # type: ignore[no-untyped-def]
    from django.conf import settings

    return database_url(settings.DATABASES["default"])


@pytest.fixture(scope="session")
def asgi_server(test_db_url, private_redis):  # type: ignore[no-untyped-def]
    server = Uvicorn(service_env(test_db_url, private_redis)).start()
    yield server
    server.stop()


@pytest.fixture
def worker(test_db_url, private_redis):  # type: ignore[no-untyped-def]
    redis.Redis.from_url(private_redis.url(1)).flushdb()  # no stale tasks from earlier tests
    started = Worker(service_env(test_db_url, private_redis)).start()
    yield started
    started.stop()


@pytest.fixture
def personas(db):  # type: ignore[no-untyped-def]
    """The suite's personas (same names and roles) without password hashing, which costs ~0.4 s a user."""
    from django.test import Client

    from tests.jobs.helpers import user
    from tests.personas import NAMES, Personas

    users = {role: user(name, role) for role, name in NAMES.items()}
    clients: dict = {None: Client()}
    for role, made in users.items():
        clients[role] = Client()
        clients[role].force_login(made)
    return Personas(users=users, clients=clients)


from clusters.lab.pytest_fixture import lab  # noqa: E402, F401 - the session-wide Swarm lab
