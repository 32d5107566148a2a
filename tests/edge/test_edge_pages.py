"""The edge on the cluster page: who may deploy it, and what a page shows when Traefik does not answer.
(The lab tests deploy and read a real one.)"""

import pytest
from django.urls import reverse

from clusters.models import Edge
from jobs.models import Job
from panel.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_only_an_admin_deploys_the_edge_and_the_first_deploy_saves_its_defaults(personas, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("jobs.control.enqueue", lambda *a: None)  # no worker: the job stays queued
    cluster = factories.cluster(name="prod", endpoint="tcp://manager.example:2376")
    url = reverse("cluster-edge-deploy", args=[cluster.pk])
    assert personas.client("operator").post(url).status_code == 403
    assert not Edge.objects.exists() and not Job.objects.exists()
    page = personas.client("admin").get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert url in page and "csrfmiddlewaretoken" in page
    personas.client("admin").post(url)
    edge = Edge.objects.get(cluster=cluster)
    assert (edge.image, edge.network, edge.api_url) == (
        "traefik:v3.7",
        "traefik-public",
        "http://manager.example:8099",
    )
    job = Job.objects.get(kind="edge_deploy")
    assert job.cluster == cluster and job.site is None and job.created_by_name == "dave"  # the admin persona
    assert AuditEvent.objects.filter(action="job.start", job_id=job.pk).exists()


def test_an_edge_that_does_not_answer_is_shown_as_such(personas):  # type: ignore[no-untyped-def]
    cluster = factories.cluster(name="prod")
    part = reverse("cluster-edge", args=[cluster.pk])
    assert "No edge" in personas.client("viewer").get(part).content.decode()
    Edge.objects.create(cluster=cluster, api_host="127.0.0.1", api_port=9)  # nothing listens on port 9
    page = personas.client("viewer").get(part).content.decode()
    assert "not answering" in page and "does not answer" in page
