"""Site -> Swarm stack: rendering, preflight checks and drift detection, as pure code.

Nothing in this package talks to a Docker engine or reads a Django model: the panel builds a `SiteSpec` from
its models, `render()` turns it into docker-py keyword arguments, `preflight()` runs the deploy checklist on
the rendered (and optionally the live) services, and `drift.diff()` compares rendered and live summaries.
`service_name(slug, role)` names a site's services for code that only has the slug. Every service and
one-off task is held, as it is built, to one rule (host_access.py): nothing rendered may reach a node's host.
"""

from clusters.stack.drift import Drift, diff, live_stack_summary, live_summary, task_digests
from clusters.stack.names import service_name
from clusters.stack.preflight import CheckResult, preflight
from clusters.stack.render import (
    NetworkSpec,
    ServiceSpec,
    Stack,
    render,
    render_backup_task,
    render_update_task,
    to_create_kwargs,
)
from clusters.stack.spec import BindFilestore, NfsFilestore, SiteSpec, SpecError, TraefikSpec

__all__ = [
    "BindFilestore",
    "CheckResult",
    "Drift",
    "NetworkSpec",
    "NfsFilestore",
    "ServiceSpec",
    "SiteSpec",
    "SpecError",
    "Stack",
    "TraefikSpec",
    "diff",
    "live_stack_summary",
    "live_summary",
    "preflight",
    "render",
    "render_backup_task",
    "render_update_task",
    "service_name",
    "task_digests",
    "to_create_kwargs",
]
