"""The dashboard: what ops keep open all day (totals, clusters, a page of sites, the panel's health)."""

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render

from clusters.models import Cluster, Node, Site
from clusters.views import clusters_with_counts, sites_for_list
from panel.htmx import HtmxHttpRequest
from panel.listing import list_page
from panel.roles import requires
from panel.tasks import liveness

CLUSTERS_SHOWN = 50  # the cluster list page has them all


@requires("view")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    """Totals, clusters and a page of sites. Query count does not grow with the number of rows."""
    site_states = dict(Site.objects.values_list("status").annotate(n=Count("id")).order_by())
    node_states = dict(Node.objects.values_list("state").annotate(n=Count("id")).order_by())
    context = {
        "clusters": clusters_with_counts()[:CLUSTERS_SHOWN],
        "clusters_total": Cluster.objects.count(),
        "site_states": site_states,
        "sites_total": sum(site_states.values()),
        "nodes_total": sum(node_states.values()),
        "nodes_ready": node_states.get("ready", 0),
        "health": liveness(),
    }
    if request.htmx and request.htmx.target == "dashboard-live":
        return render(request, "dashboard_live.html", context)  # the timed refresh of the top half
    return list_page(
        request,
        sites_for_list(),
        search_fields=["slug", "name", "domains__name", "cluster__name"],
        template="dashboard.html",
        partial="clusters/partials/site_table.html",
        context=context,
    )
