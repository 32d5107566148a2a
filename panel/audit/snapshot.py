"""Before and after: a model's field values as plain data, and only what changed between two.

Encrypted fields are masked here (as well as by key name in mask.clean): their names need not
say "password". Timestamps the model sets itself (auto_now) are left out, since they change on
every save and would hide the real change.
"""

from collections.abc import Collection
from typing import Any

from django.db import models

from panel.crypto import MASK, EncryptedTextField


def _auto(field: models.Field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _related_name(obj: models.Model, field: models.Field) -> Any:
    """The related object's name (what a reader recognises), its id if it cannot be loaded."""
    related_id = getattr(obj, field.attname)
    if related_id is None:
        return None
    try:
        return str(getattr(obj, field.name))
    except Exception:
        return related_id


def snapshot(obj: models.Model | None) -> dict[str, Any]:
    """Field name -> value for every concrete field; related objects by name."""
    if obj is None:
        return {}
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or _auto(field):
            continue
        if isinstance(field, EncryptedTextField):
            raw = getattr(obj, field.attname)
            values[field.name] = MASK if raw else ""
        elif field.is_relation:
            values[field.name] = _related_name(obj, field)
        else:
            values[field.name] = getattr(obj, field.attname)
    return values


def secret_fingerprints(obj: models.Model | None) -> dict[str, int]:
    """A hash of each encrypted field's value, only to tell "changed" from "unchanged" (never logged)."""
    if obj is None:
        return {}
    return {
        f.name: hash(str.__str__(getattr(obj, f.attname) or ""))
        for f in obj._meta.concrete_fields
        if isinstance(f, EncryptedTextField)
    }


def changes(
    before: dict[str, Any], after: dict[str, Any], changed_secrets: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) restricted to the keys whose values differ, plus secrets known to change."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k) or k in changed_secrets]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
