"""Secrets at rest from the command line.

    manage.py encryption reencrypt [--dry-run]   rewrite every stored secret with PANEL_ENCRYPTION_KEY

To rotate the key: set the new PANEL_ENCRYPTION_KEY with the previous one in PANEL_ENCRYPTION_KEY_OLD
(comma-separated), restart the panel and its workers, run `reencrypt`, then drop the old key. The same
run moves values saved with the old key derivation (a bare SHA-256) to the current one (scrypt).
Everything happens in one transaction: a value that no key opens stops the run (exit 2), naming it,
with nothing changed. Values already encrypted with the current key are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import CommandError, CommandParser
from django.db import models, transaction
from django.db.models.functions import Cast

from panel import crypto
from panel.audit import record
from panel.cli import REFUSED, PanelCommand, command_actor


def encrypted_fields() -> Iterator[tuple[type[models.Model], models.Field[Any, Any]]]:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, crypto.EncryptedTextField):
                yield model, field


class Command(PanelCommand):
    help = "Re-encrypt every stored secret with the current PANEL_ENCRYPTION_KEY (key rotation)."
    permissions = {"reencrypt": "admin"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("reencrypt", help="rewrite every stored secret with the current key")
        run.add_argument(
            "--dry-run", action="store_true", help="count what would be rewritten; change nothing"
        )

    def do_reencrypt(self, dry_run: bool, **_: Any) -> None:
        stale = total = 0
        with transaction.atomic():
            for model, field in encrypted_fields():
                rows = (
                    model._base_manager.annotate(_token=Cast(field.attname, models.TextField()))
                    .filter(_token__isnull=False)
                    .exclude(_token="")
                    .values_list("pk", "_token")
                )
                for pk, token in rows.iterator():
                    total += 1
                    if crypto.is_current(token):
                        continue
                    stale += 1
                    new = _rotated(token, f"{model._meta.label} {pk} {field.name}")
                    if not dry_run:
                        value = models.Value(new, output_field=models.TextField())
                        model._base_manager.filter(pk=pk).update(**{field.attname: value})
            if not dry_run:
                detail = f"{stale} of {total} stored secrets re-encrypted with the current key"
                record("encryption.reencrypt", actor=command_actor(), detail=detail)
        done = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"{done} {stale} of {total} stored secrets with the current PANEL_ENCRYPTION_KEY")


def _rotated(token: str, what: str) -> str:
    try:
        return crypto.rotate(token)
    except InvalidToken:
        raise CommandError(
            f"{what}: no key opens it (neither PANEL_ENCRYPTION_KEY nor PANEL_ENCRYPTION_KEY_OLD); "
            "nothing was changed",
            returncode=REFUSED,
        ) from None
