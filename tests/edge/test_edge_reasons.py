"""What the maintenance page says of a site: what the job holding it does, never a job long ended."""

from __future__ import annotations

import pytest

from clusters.edge.fallbacks import DEFAULT_REASON, JOB_REASONS, fallbacks
from clusters.models import Edge, Site
from jobs.models import Kind, State
from tests import factories

pytestmark = pytest.mark.django_db


def _reasons(edge: Edge, released: int | None = None) -> dict[str, str]:
    return {f.slug: f.reason for f in fallbacks(edge, released)}


def test_the_page_says_what_the_holding_job_does_and_forgets_it_when_the_site_is_back() -> None:
    cluster = factories.cluster()
    edge = Edge.objects.create(cluster=cluster, network="traefik-public")
    updated = factories.site(
        cluster, slug="upd", traefik_network="traefik-public", status=Site.Status.HEALTHY
    )
    restored = factories.site(
        cluster, slug="rst", traefik_network="traefik-public", status=Site.Status.HEALTHY
    )
    idle = factories.site(cluster, slug="idle", traefik_network="traefik-public", status=Site.Status.HEALTHY)
    factories.job(updated, kind=Kind.MODULE_UPDATE, mutating=True, state=State.RUNNING)
    factories.job(restored, kind=Kind.RESTORE, mutating=True, state=State.RUNNING)
    # An update that ended long ago, whose site's status was left as it was: not what happens now.
    factories.job(idle, kind=Kind.MODULE_UPDATE, mutating=True, state=State.SUCCEEDED)
    Site.objects.filter(pk=idle.pk).update(status=Site.Status.UPDATING)

    assert _reasons(edge) == {
        "upd": JOB_REASONS[Kind.MODULE_UPDATE],
        "rst": JOB_REASONS[Kind.RESTORE],
        "idle": DEFAULT_REASON,
    }
    # The update has brought its site back (its job still runs its last checks).
    assert _reasons(edge, released=updated.pk)["upd"] == DEFAULT_REASON
