"""GET /metrics: the Prometheus text format, for allowed addresses or the token's bearer."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import generate_latest

from panel.audit.context import client_address
from panel.metrics.access import may_read
from panel.metrics.registry import REGISTRY

#: The classic text format, which generate_latest writes: Prometheus 2 (Debian 12's) reads it, and
#: prometheus_client's own CONTENT_TYPE_LATEST names a newer version in recent releases.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """No login (Prometheus has no account), no session: the address or the token decides. A
    refusal says no more than 403, so a prober learns nothing about the configuration."""
    allowed = may_read(request, client_address(request), settings.METRICS_ALLOW, settings.METRICS_TOKEN)
    if not allowed:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE)
