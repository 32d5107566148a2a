"""The secrets a site's services read from files in /run/secrets, never from their environment.

`docker service inspect` (anyone with the engine's socket, or a support bundle) shows a service's
environment and command line; a Swarm secret's content is shown to no one: it is stored encrypted in
the managers' Raft log and reaches only the tasks that name it, as a file on a tmpfs. So:

- the database password is the secret file `db_password`: PostgreSQL reads it through
  POSTGRES_PASSWORD_FILE (the official image's entrypoint, and the lab's), Odoo through PASSWORD_FILE
  (the official Odoo image's entrypoint reads it into the --db_password flag), and the panel's one-off
  tasks with the database image through `with_db_password`, which exports PGPASSWORD inside the
  task only;
- the site's Redis reads `redis.conf`, a config file holding `requirepass`.

A secret cannot be changed, so each is named after a hash of its content (`content_name`, the edge's
certificates too): a changed value is a new secret and a rolling update of the services naming it, the
same value renders the same spec (a redeploy restarts nothing). clusters/swarm_secrets.py makes the
secrets a rendered ServiceSpec names before the service, and removes the site's unused ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from docker.types import SecretReference

SECRETS_DIR = "/run/secrets"
DB_PASSWORD = "db_password"  # noqa: S105 - a file name
REDIS_CONF = "redis.conf"
DB_PASSWORD_FILE = f"{SECRETS_DIR}/{DB_PASSWORD}"
REDIS_CONF_FILE = f"{SECRETS_DIR}/{REDIS_CONF}"
SITE_SECRET_ROLE = "site-secret"  # noqa: S105 - a label value


def content_name(prefix: str, content: bytes) -> str:
    """`<prefix>-<first 16 hex of the content's sha256>`: a new value is a new name."""
    return f"{prefix}-{hashlib.sha256(content).hexdigest()[:16]}"


@dataclass(frozen=True)
class SecretFile:
    """One Swarm secret named by its content, and where a task finds it. Readable by every user of the
    task (mode 0444, as Swarm's default): the images read it as their own user (odoo, redis), which the
    renderer does not know; the file exists only inside the tasks that name the secret."""

    name: str
    filename: str
    content: bytes = field(repr=False)
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def reference(self, secret_id: str | None = None) -> SecretReference:
        """The service's reference to it; without an id (a pure render) the name stands in for one."""
        return SecretReference(secret_id or self.name, self.name, filename=self.filename, mode=0o444)


def site_secret(slug: str, filename: str, content: str) -> SecretFile:
    """A secret of the site `slug`, labelled so that the panel finds the site's unused ones."""
    labels = {"panel.managed": "true", "panel.site": slug, "panel.role": SITE_SECRET_ROLE}
    prefix = f"{slug}_{filename.replace('.', '-')}"
    return SecretFile(content_name(prefix, content.encode()), filename, content.encode(), labels)


def with_db_password(command: list[str]) -> list[str]:
    """`command` run with PGPASSWORD read from the db_password secret, for libpq's tools (psql,
    pg_dump, pg_restore) in the database image: the variable exists inside the task's processes only.
    A `sh -c SCRIPT ...` command gets it at the head of its script, any other one through `sh -c`."""
    read = f'PGPASSWORD="$(cat {DB_PASSWORD_FILE})" || exit 1; export PGPASSWORD\n'
    if command[:2] == ["sh", "-c"] and len(command) > 2:
        return ["sh", "-c", read + command[2], *command[3:]]
    return ["sh", "-c", read + 'exec "$0" "$@"', *command]
