"""Action names the panel records, for the review page's suggestions and as the naming convention:
"<what it is about>.<verb>", lower case. Features add theirs by calling record(); this list only
feeds the filter's suggestions, so a name missing here is still recorded and searchable."""

GROUPS = ["auth", "user", "cluster", "site", "domain", "job", "manifest", "api_token", "audit"]

KNOWN = [
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.lockout",
    "user.create",
    "user.role",
    "user.deactivate",
    "user.reactivate",
    "user.password",
    "user.unlock",
    "cluster.create",
    "cluster.edit",
    "cluster.delete",
    "cluster.test",
    "cluster.sync",
    "site.create",
    "site.edit",
    "site.delete",
    "site.rehearsal_override",
    "domain.create",
    "domain.edit",
    "domain.delete",
    "job.start",
    "job.cancel",
    "job.reap",
    "job.compensate",
    "manifest.submit",
    "manifest.approve",
    "manifest.reject",
    "manifest.override",
    "manifest.binding_refused",
    "api_token.create",
    "api_token.revoke",
    "audit.export",
    "audit.verify_failed",
    "job.log_download",
]
