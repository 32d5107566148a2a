import pytest

from tests import factories


@pytest.fixture
def world(personas):  # type: ignore[no-untyped-def]
    """A cluster "prod" with a site "acme" and its domain, and a spare viewer "erin"."""
    cluster = factories.cluster(name="prod")
    site = factories.site(cluster, slug="acme")
    domain = factories.domain(site, "shop.example.com")
    erin = factories.user("erin", role="viewer")
    return {"cluster": cluster, "site": site, "domain": domain, "erin": erin}


@pytest.fixture(autouse=True)
def anchor_file(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Each test anchors into a file of its own, never the development one in var/."""
    settings.AUDIT_ANCHOR_FILE = tmp_path / "audit-anchors.jsonl"
    return settings.AUDIT_ANCHOR_FILE
