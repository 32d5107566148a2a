"""Module updates on the lab: the sites fixtures (a lab cluster, sites with their own image tag), the
job engine's real services (a private Redis as broker and log stream, a Celery worker that a test
may SIGKILL), and an engine proxy that a test can take away.

The job-engine fixtures are imported from tests/jobs; the private Redis is the session's one
(tests/conftest.py), so jobs started here never reach a `make run` worker on the shared Redis.
"""

from collections.abc import Iterator
from typing import Any

import docker
import pytest

from lab.api import LabInfo
from tests.jobs.conftest import _stream_settings, worker  # noqa: F401
from tests.modules.engine_proxy import EngineProxy
from tests.modules.helpers import SLOW_MODULE_SECONDS, SiteRows, module_site
from tests.sites.conftest import docker_client, lab_cluster, make_site  # noqa: F401


@pytest.fixture
def proxy(lab: LabInfo) -> Iterator[EngineProxy]:
    """A socket in front of the lab's manager engine, for a cluster whose engine a test takes away."""
    started = EngineProxy(lab.manager_socket).start()
    yield started
    started.close()


@pytest.fixture
def reaper_settings(settings):  # type: ignore[no-untyped-def]
    """The reaper as beat runs it, on a test's time scale: a dead worker's job is stale after 5 s
    (its worker beats every second), and a failed compensation is retried on every pass."""
    settings.JOB_HEARTBEAT_TIMEOUT = 5
    settings.JOB_COMPENSATION_RETRY_SECONDS = 0
    return settings


@pytest.fixture(scope="module")
def proxied_site(  # type: ignore[no-untyped-def]
    lab: LabInfo,
    private_redis,
    django_db_setup,
    django_db_blocker,
) -> Iterator[tuple[SiteRows, EngineProxy, Any]]:
    """One site for a whole test module, deployed with its demo modules, its cluster reached through
    an engine proxy; its image makes each module update take a second. Yields the rows to write
    again in each test (SiteRows.restore), the proxy and a direct client (the test's own view)."""
    client = docker.DockerClient(base_url=lab.manager_socket)
    proxy = EngineProxy(lab.manager_socket).start()
    try:
        with module_site(
            lab,
            client,
            django_db_blocker,
            private_redis.url(0),
            endpoint=proxy.endpoint,
            variant=[f"ENV ODOO_STANDIN_MODULE_SECONDS={SLOW_MODULE_SECONDS}"],
        ) as rows:
            yield rows, proxy, client
    finally:
        proxy.close()
        client.close()


@pytest.fixture(scope="module")
def shop_rows(lab, private_redis, django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """One deployed site with the demo modules installed (shop_base <- shop_sale, shop_stock), shared
    by the tests of a module (a deploy and an install each less); `shop` restores its rows per test."""
    client = docker.DockerClient(base_url=lab.manager_socket)
    try:
        with module_site(
            lab, client, django_db_blocker, private_redis.url(0), endpoint=lab.manager_socket
        ) as rows:
            yield rows
    finally:
        client.close()


@pytest.fixture
def shop(shop_rows, transactional_db):  # type: ignore[no-untyped-def]
    return shop_rows.restore()
