"""Scaling a site's Odoo service, and waiting until the new replicas run."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from clusters import swarm_ops as ops
from clusters.edge import fallbacks
from clusters.job_client import job_client
from clusters.models import Site
from clusters.sites.client import set_status
from clusters.stack import service_name
from jobs.runner import JobFailed, JobRunner, register


@register
class ScaleRunner(JobRunner):
    kind = "scale"
    plan = ["Scale", "Wait"]
    sets_site = ("replicas",)

    def run(self) -> dict[str, Any]:
        site, replicas = self.site, int(self.params["replicas"])
        if not 1 <= replicas <= 20:
            raise JobFailed("replicas must be between 1 and 20")
        name = service_name(site.slug, "odoo")
        with job_client(self) as client:
            with self.step("Scale"):
                before = ops.find_service(client, name)
                if before is None:
                    raise JobFailed(f"{name} does not exist: deploy the site first")
                self.log(f"{name}: {ops.replicas_of(before)} -> {replicas} replicas")
                Site.objects.filter(pk=site.pk).update(replicas=replicas)
                since = timezone.now()
                ops.scale(client, name, replicas)
            with self.step("Wait"):
                try:
                    ops.wait_converged(client, name, since=since, deadline_s=600, log=self.log)
                except ops.SwarmError as exc:
                    raise JobFailed(str(exc)) from exc
                fallbacks.wait_routed(site, replicas, self.log)
        set_status(site, Site.Status.HEALTHY, running_replicas=replicas)
        return {"replicas": replicas}
