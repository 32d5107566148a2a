"""A rehearsal's outcome (issue 18), kept apart from its job: the update plan names the last
rehearsal of the same digest and modules, and jobs are pruned on their own schedule."""

from __future__ import annotations

from django.db import models

from clusters.models.core import Site


class Rehearsal(models.Model):
    """`-u` of `modules` with the image `digest` on a neutralized copy of the site's database."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="rehearsals")
    job_id = models.BigIntegerField()  # its job's page has the log
    digest = models.CharField(max_length=80)
    modules = models.JSONField(default=list)  # sorted: a lookup compares the list as a whole
    ok = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)  # the verdict's, when it failed
    update_s = models.FloatField(null=True, blank=True)  # the one-off `-u` alone
    duration_s = models.FloatField(default=0)  # copy, neutralize, `-u` and drop
    finished_at = models.DateTimeField()

    class Meta:
        ordering = ["-finished_at"]
        indexes = [models.Index(fields=["site", "digest", "-finished_at"])]

    def __str__(self) -> str:
        return (
            f"{self.site.slug} {','.join(self.modules)} @ {self.digest[:19]}: {'ok' if self.ok else 'failed'}"
        )

    @classmethod
    def last_of(cls, site: Site, digest: str, modules: list[str] | tuple[str, ...]) -> Rehearsal | None:
        """The newest rehearsal of exactly these modules on exactly this digest, if any."""
        if not digest:
            return None
        return cls.objects.filter(site=site, digest=digest, modules=sorted(modules)).first()
