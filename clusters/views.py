"""Pages for clusters, sites and domains."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clusters import actions
from clusters.approvals.models import ManifestChange
from clusters.edge.status import EdgeUnreachable, read_status
from clusters.forms import ClusterForm, DomainForm, EdgeForm, SiteForm
from clusters.models import Backup, Cluster, Domain, Edge, Node, Site
from clusters.sites import actions as site_actions
from clusters.sites import inspection
from clusters.stack import SpecError
from clusters.stack.preflight import side_by_side
from jobs.locks import holder
from jobs.models import Job
from jobs.shortcuts import start_and_show
from panel import crud
from panel.cli import form_data
from panel.htmx import HtmxHttpRequest
from panel.listing import list_page
from panel.roles import can, requires

EDGE_ROUTERS_SHOWN = 200  # a page, not an export: `cluster edge status --json` gives them all


def _count_per_cluster(model, **filters):  # type: ignore[no-untyped-def]
    """A correlated COUNT for each cluster row. Counting through joins instead multiplies a cluster's
    nodes by its sites and groups every cluster before the page's LIMIT (53 ms at 500 clusters and
    5,000 sites, against 3 ms this way: bench/dashboard.py)."""
    rows = model.objects.filter(cluster=OuterRef("pk"), **filters).order_by().values("cluster")
    return Coalesce(Subquery(rows.annotate(n=Count("*")).values("n")), 0)


def clusters_with_counts():  # type: ignore[no-untyped-def]
    return Cluster.objects.annotate(
        node_count=_count_per_cluster(Node),
        ready_count=_count_per_cluster(Node, state="ready", availability="active"),
        site_count=_count_per_cluster(Site),
    ).order_by("name")


def sites_for_list():  # type: ignore[no-untyped-def]
    return Site.objects.select_related("cluster").prefetch_related(
        Prefetch("domains", queryset=Domain.objects.only("id", "name", "site_id"))
    )


@requires("view")
def cluster_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        clusters_with_counts(),
        search_fields=["name", "endpoint"],
        template="clusters/cluster_list.html",
        partial="clusters/partials/cluster_table.html",
    )


@requires("view")
def cluster_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(clusters_with_counts(), pk=pk)
    return render(
        request,
        "clusters/cluster_detail.html",
        {
            "cluster": cluster,
            "nodes": cluster.nodes.all(),
            "sites": sites_for_list().filter(cluster=cluster)[:100],
        },
    )


@requires("admin")
def cluster_create(request: HtmxHttpRequest) -> HttpResponse:
    return crud.edit(
        request,
        ClusterForm,
        title="New cluster",
        cancel_url=reverse("cluster-list"),
        success_url=lambda c: c.get_absolute_url(),
    )


@requires("admin")
def cluster_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    return crud.edit(
        request,
        ClusterForm,
        instance=cluster,
        title=f"Edit cluster {cluster}",
        cancel_url=cluster.get_absolute_url(),
        success_url=lambda c: c.get_absolute_url(),
    )


@requires("admin")
def cluster_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    return crud.delete(
        request,
        cluster,
        success_url=reverse("cluster-list"),
        warning="The panel forgets this cluster; nothing on the cluster itself is touched.",
    )


@requires("view")
def site_list(request: HtmxHttpRequest) -> HttpResponse:
    queryset = sites_for_list()
    status = request.GET.get("status", "")
    if status in Site.Status.values:
        queryset = queryset.filter(status=status)
    return list_page(
        request,
        queryset,
        search_fields=["slug", "name", "domains__name", "cluster__name"],
        template="clusters/site_list.html",
        partial="clusters/partials/site_table.html",
        context={"status": status, "statuses": Site.Status.choices},
    )


def _site(slug: str) -> Site:
    return get_object_or_404(Site.objects.select_related("cluster"), slug=slug)


@requires("view")
def site_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    return render(
        request,
        "clusters/site_detail.html",
        {
            "site": site,
            "domains": site.domains.all(),
            "domain_form": DomainForm(),
            "jobs": Job.objects.filter(site=site).order_by("-created_at")[:8],
            "running_job": holder(site.pk),
            "installed_count": sum(1 for state, _ in site.installed_modules.values() if state == "installed"),
            "backups": Paginator(Backup.objects.filter(site=site), 10).get_page(request.GET.get("backups")),
            "changes": ManifestChange.objects.filter(site=site).order_by("-created_at")[:5],
        },
    )


@requires("operate")
def site_create(request: HtmxHttpRequest) -> HttpResponse:
    initial = {}
    if cluster_id := request.GET.get("cluster"):
        initial["cluster"] = cluster_id
    return crud.edit(
        request,
        SiteForm,
        initial=initial,
        title="New site",
        cancel_url=reverse("site-list"),
        success_url=lambda s: s.get_absolute_url(),
    )


@requires("operate")
def site_edit(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    return crud.edit(
        request,
        SiteForm,
        instance=site,
        title=f"Edit site {site}",
        cancel_url=site.get_absolute_url(),
        success_url=lambda s: s.get_absolute_url(),
        form_kwargs={"may_relax_policy": can(request.user, "admin")},
    )


@requires("admin")
def site_delete(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    return crud.delete(
        request,
        site,
        success_url=reverse("site-list"),
        warning="The panel forgets this site and its domains. Its services, database and "
        "filestore on the cluster are left as they are.",
    )


@requires("view")
def domain_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        Domain.objects.select_related("site"),
        search_fields=["name", "site__slug"],
        template="clusters/domain_list.html",
        partial="clusters/partials/domain_table.html",
    )


@requires("operate")
def domain_create(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)

    def attach(domain: Domain) -> None:
        domain.site = site

    form = DomainForm(request.POST or None, instance=Domain(site=site))
    if request.htmx and request.method == "POST":
        # The domain form sits inside the site page: answer with the refreshed domain list.
        note = ""
        if form.is_valid():
            crud.save_form(request, form)  # audited like every other save
            note = site_actions.apply_domains(request, site)
            form = DomainForm()
        return render(
            request,
            "clusters/partials/site_domains.html",
            {"site": site, "domains": site.domains.all(), "domain_form": form, "note": note},
            status=422 if form.errors else 200,
        )
    return crud.edit(
        request,
        DomainForm,
        instance=Domain(site=site),
        before_save=attach,
        after_save=lambda d: messages.info(request, site_actions.apply_domains(request, site)),
        title=f"Add a domain to {site}",
        cancel_url=site.get_absolute_url(),
        success_url=lambda d: site.get_absolute_url(),
    )


@requires("operate")
def domain_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    domain = get_object_or_404(Domain.objects.select_related("site"), pk=pk)
    return crud.edit(
        request,
        DomainForm,
        instance=domain,
        title=f"Edit domain {domain}",
        cancel_url=domain.site.get_absolute_url(),
        success_url=lambda d: d.site.get_absolute_url(),
        after_save=lambda d: messages.info(request, site_actions.apply_domains(request, d.site)),
    )


@requires("operate")
def domain_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    domain = get_object_or_404(Domain.objects.select_related("site"), pk=pk)
    site = domain.site
    return crud.delete(
        request,
        domain,
        success_url=site.get_absolute_url(),
        warning="The site's router rule is rewritten by a job: traffic for this name stops reaching it.",
        after_delete=lambda: messages.info(request, site_actions.apply_domains(request, site)),
    )


def _cluster_panel(request: HtmxHttpRequest, cluster: Cluster, message: str, ok: bool) -> HttpResponse:
    cluster = get_object_or_404(clusters_with_counts(), pk=cluster.pk)
    context = {"cluster": cluster, "nodes": cluster.nodes.all(), "result": message, "result_ok": ok}
    if request.htmx:
        return render(request, "clusters/partials/cluster_live.html", context)
    (messages.success if ok else messages.error)(request, message)
    return redirect(cluster.get_absolute_url())


@requires("operate")
@require_POST
def cluster_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Connect, check API version, Swarm mode and manager role; say exactly what is wrong."""
    cluster = get_object_or_404(Cluster, pk=pk)
    ok, message = actions.connection_check(cluster, request=request)
    return _cluster_panel(request, cluster, message, ok=ok)


@requires("operate")
@require_POST
def cluster_sync(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    result = actions.synchronise(cluster, request=request)
    return _cluster_panel(
        request, cluster, f"Synced: {result.message}." if result.ok else result.message, result.ok
    )


@requires("admin")
@require_POST
def cluster_edge_deploy(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Deploy the cluster's edge (with the defaults the first time) as a job."""
    cluster = get_object_or_404(Cluster, pk=pk)
    if not Edge.objects.filter(cluster=cluster).exists():
        new = Edge(cluster=cluster)
        crud.save_form(request, EdgeForm(form_data(new, EdgeForm), instance=new))  # audited as a page save
    return start_and_show(request, "edge_deploy", cluster=cluster, busy_url=cluster.get_absolute_url())


@requires("view")
def cluster_edge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The edge's routers as Traefik reports them now (loaded by the cluster page)."""
    cluster = get_object_or_404(Cluster, pk=pk)
    edge = Edge.of(cluster)
    found, problem = None, ""
    if edge is not None:
        try:
            found = read_status(edge.api_url)
        except EdgeUnreachable as exc:
            problem = str(exc)
    return render(
        request,
        "clusters/partials/cluster_edge.html",
        {"cluster": cluster, "edge": edge, "found": found, "problem": problem, "shown": EDGE_ROUTERS_SHOWN},
    )


@requires("view")
def cluster_live(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The status and node table, polled by the cluster page."""
    cluster = get_object_or_404(clusters_with_counts(), pk=pk)
    return render(
        request, "clusters/partials/cluster_live.html", {"cluster": cluster, "nodes": cluster.nodes.all()}
    )


@requires("view")
def site_preflight(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Each checklist item, pass or fail, with the reason and the fix."""
    site = _site(slug)
    try:
        results, note = inspection.preflight_for(site)
    except SpecError as exc:
        results, note = [], f"The site's settings cannot be rendered: {exc}"
    rows = side_by_side(results)
    hard = [row for row in rows if not row.ok and row.severity == "hard"]
    return render(
        request, "clusters/site_preflight.html", {"site": site, "rows": rows, "note": note, "hard": hard}
    )


@requires("operate")
@require_POST
def site_drift_check(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    state = inspection.check_drift(site)
    site.refresh_from_db()
    message = (
        "The cluster cannot be reached; see its page."
        if state is None
        else "Not deployed yet."
        if not state.deployed
        else f"{len(state.drift)} difference(s) from what the site should be."
        if state.drift
        else "No drift: the live services match the site."
    )
    return render(request, "clusters/partials/site_drift.html", {"site": site, "result": message})
