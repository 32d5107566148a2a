"""Module updates on the lab reuse the sites fixtures (a lab cluster, sites with their own image tag)."""

from tests.sites.conftest import docker_client, lab_cluster, make_site  # noqa: F401
