"""The start button: a second click lands on the running job with a clear message and a link."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from jobs.models import Job
from jobs.shortcuts import start_and_show
from tests import factories

pytestmark = pytest.mark.django_db


def request_as(user, htmx: bool = False):  # type: ignore[no-untyped-def]
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    request = RequestFactory().post("/sites/acme/deploy/", **extra)
    SessionMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type, return-value]
    MessageMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type, return-value]
    request.user = user
    request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
    return request


def test_second_click_goes_to_the_running_job(personas):
    site = factories.site(factories.cluster(), slug="acme")
    first = request_as(personas.users["operator"])
    response = start_and_show(first, "test.hold", site=site)
    job = Job.objects.get(site=site)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.created_by_name == "bob"

    second = request_as(personas.users["admin"], htmx=True)
    response = start_and_show(second, "test.hold", site=site)
    assert response.status_code == 204 and response["HX-Redirect"] == job.get_absolute_url()
    assert Job.objects.filter(site=site).count() == 1
    [message] = [str(m) for m in get_messages(second)]
    assert f'<a href="{job.get_absolute_url()}">' in message
    assert "is already queued on acme (started by bob)" in message
