"""Fixtures of the job engine tests: uvicorn and a Celery worker on the private Redis of tests/conftest.py."""

from __future__ import annotations

import pytest
import redis

import tests.jobs.runners  # noqa: F401  (registers the test runners and compensation action)
from tests.jobs.services import Uvicorn, Worker, service_env


@pytest.fixture(autouse=True)
def _stream_settings(settings, private_redis):  # type: ignore[no-untyped-def]
    settings.JOB_LOG_REDIS_URL = private_redis.url(0)
    settings.JOB_HEARTBEAT_SECONDS = 1


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


from lab.pytest_fixture import lab  # noqa: E402, F401 - the session-wide Swarm lab
