"""The audit log's one entry point: `from panel.audit import record`.

    record(action, *, request=None, actor=None, target=None, before=None, after=None,
           job=None, site=None, cluster=None, detail="", request_id=None, client_address=None)
        -> AuditEvent

action   dotted name, e.g. "site.create", "site.deploy", "job.cancel", "manifest.approve".
actor    a user, or a string: "system" (reaper, beat), "cli:<unix user>" (see cli_actor()).
         Default: request.user (or that of the request bound by RequestIdMiddleware); with no
         request, "cli:<unix user>" under manage.py and "system" elsewhere (workers, beat).
target   a model instance (type, id and str are kept), a Target, a plain name, or None.
before/after  field values where something changed; secrets are masked here (any key naming a
         password, secret, key or token, and tls_ca / tls_cert; encrypted fields; PEM private keys).
job      a Job or its id: the job this action started. site, cluster: instance or slug/name, for
         filtering; inferred from the target (or the job) when not given.
request_id, client_address: default from the request (RequestIdMiddleware).

The row is hash-chained (an HMAC under a key outside the database) and written in the caller's
transaction: if the caller rolls back, the event goes too. Formatting problems never raise; database
errors do. Rows cannot be changed or deleted (database triggers); `manage.py audit verify` recomputes
the chain and checks it against the heads beat anchors outside the database (panel/audit/anchor.py).
"""

from panel.audit.context import cli_actor
from panel.audit.store import SYSTEM, record
from panel.audit.target import Target

__all__ = ["SYSTEM", "Target", "cli_actor", "record"]
