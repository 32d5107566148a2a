"""The real-Odoo tier: the lab's fixtures (tests/sites) and the session's private Redis for job logs."""

from tests.sites.conftest import docker_client  # noqa: F401
