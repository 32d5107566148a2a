"""The permission names behind the four roles (see panel/roles.py)."""

from django.db import models


class Access(models.Model):
    """Holds no rows: it only owns the custom permissions that the role groups are given."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_panel", "Can see clusters, sites, jobs and logs"),
            ("operate_sites", "Can deploy, scale and update sites, and submit manifest changes"),
            ("approve_changes", "Can approve or reject manifest changes of others"),
            ("administer", "Can manage clusters, credentials and users"),
        ]

    def __str__(self) -> str:
        return "access"
