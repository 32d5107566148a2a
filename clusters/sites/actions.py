"""The site page's buttons. Each starts a job (jobs.control.start: row first, one per site, audited)
and sends the browser to the job's page, where the log arrives live. A second click while a job
holds the site gets "already running" with a link to that job, never a second job.

Destructive or disruptive actions ask first: a GET shows what will happen (the plan), the POST
does it.
"""

from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from clusters.models import Backup, Rehearsal, Site
from clusters.sites.module_update.policy import PolicyRefused, policy_for, update_params
from clusters.stack import SpecError
from clusters.stack.spec import validate_modules
from jobs import control
from jobs.locks import JobAlreadyRunning
from jobs.models import Job, State
from jobs.shortcuts import start_and_show
from panel.htmx import HtmxHttpRequest
from panel.roles import requires


def _site(slug: str) -> Site:
    return get_object_or_404(Site.objects.select_related("cluster"), slug=slug)


def start_job(request: HtmxHttpRequest, site: Site, kind: str, **params: Any) -> HttpResponse:
    """A site button's job; a busy site keeps the user on the site's page."""
    return start_and_show(request, kind, site=site, params=params, busy_url=site.get_absolute_url())


def start_domain_job(site: Site, *, request: Any = None, user: Any = None) -> tuple[Job | None, str]:
    """A domain was added, changed or removed: a deployed site gets its router rule rewritten by a
    job. The job (None when none was started) and what happens, in words. The pages and
    `manage.py domain` both come here."""
    if not site.image_digest:
        return None, "The site is not deployed yet: its first deploy uses the new domains."
    try:
        job = control.start("domain", site=site, request=request, user=user)
    except JobAlreadyRunning as exc:
        return None, f"{exc} The router rule is updated by the next deploy or reconcile."
    return job, f"Updating the router rule: job #{job.pk}."


def apply_domains(request: HtmxHttpRequest, site: Site) -> str:
    job, note = start_domain_job(site, request=request)
    if job is None:
        return note
    return format_html('Updating the router rule: <a href="{}">job #{}</a>.', job.get_absolute_url(), job.pk)


@requires("operate")
@require_POST
def site_deploy(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return start_job(request, _site(slug), "deploy")


@requires("operate")
@require_POST
def site_reconcile(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return start_job(request, _site(slug), "reconcile")


@requires("operate")
@require_POST
def site_read_modules(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    return start_job(request, _site(slug), "read_modules")


@requires("operate")
def site_scale(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    site = _site(slug)
    error = ""
    if request.method == "POST":
        try:
            replicas = int(request.POST.get("replicas", ""))
        except ValueError:
            replicas = 0
        if not 1 <= replicas <= 20:
            error = "Choose between 1 and 20 replicas."
        elif request.POST.get("confirm") == "yes":
            return start_job(request, site, "scale", replicas=replicas)
        else:
            return render(
                request, "clusters/site_scale.html", {"site": site, "replicas": replicas, "confirm": True}
            )
    return render(
        request,
        "clusters/site_scale.html",
        {"site": site, "replicas": site.replicas, "error": error},
        status=422 if error else 200,
    )


def expected_downtime(site: Site) -> float | None:
    """The median downtime of this site's last successful updates, if any."""
    results = Job.objects.filter(site=site, kind="module_update", state=State.SUCCEEDED).order_by(
        "-created_at"
    )
    values = [
        r["downtime_s"] for r in results.values_list("result", flat=True)[:10] if r and r.get("downtime_s")
    ]
    return round(median(values), 1) if values else None


@dataclass
class ChangedOffer:
    """What the update form offers first: installed modules whose code differs from what they were
    last updated with (addon checksums, as click-odoo-update compares them), so nobody reaches
    for `all`. From the last read of the site's modules, less what was updated since."""

    changed: list[str]
    unknown: list[str]
    read_at: datetime | None


def changed_offer(site: Site) -> ChangedOffer:
    read = (
        Job.objects.filter(site=site, kind="read_modules", state=State.SUCCEEDED, result__has_key="changed")
        .order_by("-finished_at")
        .first()
    )
    if read is None:
        return ChangedOffer([], [], None)
    since = Job.objects.filter(
        site=site,
        kind__in=("module_update", "module_install"),
        state=State.SUCCEEDED,
        finished_at__gt=read.finished_at,
    )
    updated = {m for r in since.values_list("result", flat=True) for m in (r or {}).get("modules", [])}
    found = read.result or {}
    return ChangedOffer(
        changed=[m for m in found.get("changed", []) if m not in updated],
        unknown=list(found.get("unknown", [])),
        read_at=read.finished_at,
    )


@requires("operate")
def site_update_modules(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Pick installed modules (those whose code changed are ticked), see the plan, confirm."""
    site = _site(slug)
    installed = sorted(n for n, (state, _) in site.installed_modules.items() if state == "installed")
    offer = changed_offer(site)
    chosen = request.POST.getlist("modules") if request.method == "POST" else list(offer.changed)
    typed = request.POST.get("typed", "").strip() if request.method == "POST" else ""
    if typed:
        chosen += [m for m in typed.replace(",", " ").split()]
    error = refused = ""
    modules: tuple[str, ...] = ()
    if request.method == "POST":
        try:
            modules = validate_modules(chosen)
            not_installed = [m for m in modules if m not in installed]
            if not_installed:
                error = (
                    f"Not installed in {site.db_name}: {', '.join(not_installed)}. `-u` silently ignores "
                    "modules that are not installed: install them instead."
                )
        except SpecError as exc:
            error = str(exc)
        if not error and request.POST.get("confirm") == "yes" and request.POST.get("rehearse") == "yes":
            return start_job(request, site, "rehearsal", modules=list(modules), image="")
        if not error and request.POST.get("confirm") == "yes":
            try:
                return start_job(request, site, "module_update", **_update_params(request, site, modules))
            except PolicyRefused as exc:
                refused = str(exc)
    context = {
        "site": site,
        "installed": installed,
        "chosen": set(chosen),
        "offer": offer,
        "modules": modules,
        "error": error,
        "confirm": request.method == "POST" and not error,
        "downtime": expected_downtime(site),
        "backups": Backup.objects.filter(site=site)[:5],
        "rehearsal": Rehearsal.last_of(site, site.image_digest, modules) if modules else None,
        "policy": policy_for(site, modules) if modules else None,
        "refused": refused,
    }
    return render(request, "clusters/site_update.html", context, status=422 if error or refused else 200)


def _update_params(request: HtmxHttpRequest, site: Site, modules: tuple[str, ...]) -> dict[str, Any]:
    """The update the confirmed plan asks for, or PolicyRefused (the green-rehearsal policy)."""
    return update_params(
        site,
        modules,
        backup=request.POST.get("backup") == "on",
        user=request.user,
        override=request.POST.get("override_reason", ""),
    )


@requires("operate")
@require_POST
def site_backup(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """The "Back up now" button: the database and the filestore, while the site serves (retention follows)."""
    return start_job(request, _site(slug), "backup", backup_kind=Backup.Kind.MANUAL)


@requires("operate")
@require_POST
def site_drill(request: HtmxHttpRequest, slug: str, backup_id: int) -> HttpResponse:
    """The "Drill" button: a good backup restored into a scratch database, compared with its record."""
    site = _site(slug)
    backup = get_object_or_404(Backup, pk=backup_id, site=site, status=Backup.Status.OK)
    return start_job(request, site, "drill", backup_id=backup.pk)


@requires("operate")
def site_restore(request: HtmxHttpRequest, slug: str, backup_id: int) -> HttpResponse:
    site = _site(slug)
    backup = get_object_or_404(Backup, pk=backup_id, site=site)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        return start_job(request, site, "restore", backup_id=backup.pk)
    return render(
        request,
        "confirm_action.html",
        {
            "title": f"Restore {site.slug} from {backup.filename}?",
            "warning": f"The site is scaled to 0, its database {site.db_name} is replaced by the backup of "
            f"{backup.created_at:%Y-%m-%d %H:%M} ({backup.size_bytes} bytes), "
            "then the replicas are restored. "
            "Changes made since the backup are lost.",
            "button": "Restore",
            "cancel_url": site.get_absolute_url(),
        },
    )
