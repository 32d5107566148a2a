"""The chain is keyed (issue 17): a history rewritten in the database, triggers dropped and every hash
recomputed, fails verify without the key, and fails against the anchors kept outside the database
even with it. Old unkeyed rows still verify; a rewrite cannot downgrade to them; rotated keys verify."""

import hashlib
import hmac
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from panel import crypto
from panel.audit import anchor, chain, keys, record
from panel.audit.verify import rows, verify
from panel.models import AuditEvent
from tests.audit.helpers import BLANK

pytestmark = pytest.mark.django_db
KEY_A = "a" * 40
KEY_B = "b" * 40


@pytest.fixture
def events(settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_KEY, settings.AUDIT_KEY_OLD = KEY_A, []
    return [record("site.edit", actor="system", target=f"site{n}", after={"n": n}) for n in range(6)]


def problems(**kwargs: Any) -> str:
    result = verify(**kwargs)
    assert not result.ok
    return "; ".join(result.problems())


def rewrite(from_id: int, change: dict[str, Any], rehash: Callable[[dict[str, Any]], Any]) -> None:
    """What the table's owner can do: triggers off, one row changed, every hash from it on recomputed
    by `rehash`, triggers back on."""
    previous = ""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE panel_auditevent DISABLE TRIGGER USER")
    for row in list(rows()):
        if row["id"] >= from_id:
            row.update(change if row["id"] == from_id else {}, prev_hash=previous)
            rehash(row)
            fields = {k: row[k] for k in (*change, "prev_hash", "hash", *chain.SEAL_FIELDS)}
            AuditEvent.objects.filter(id=row["id"]).update(**fields)
        previous = row["hash"]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE panel_auditevent ENABLE TRIGGER USER")


def unkeyed(row: dict[str, Any]) -> None:
    row["hash"] = chain.plain_hash({**row, "hash_alg": chain.LEGACY})


def downgraded(row: dict[str, Any]) -> None:
    row.update(hash_alg=chain.LEGACY, key_id="")
    row["hash"] = chain.plain_hash(row)


def test_new_events_are_sealed_with_an_hmac_that_needs_the_key(events):  # type: ignore[no-untyped-def]
    event = events[0]
    row = AuditEvent.objects.filter(id=event.id).values(*chain.HASHED_FIELDS, *chain.SEAL_FIELDS).get()
    key = keys.derive(KEY_A, keys.AUDIT_SALT)
    assert (event.hash_alg, event.key_id) == ("hmac-sha256", key.id)
    assert event.hash == hmac.new(key.secret, chain.canonical(row), hashlib.sha256).hexdigest()
    assert event.hash != hashlib.sha256(chain.canonical(row)).hexdigest()
    assert event.hash != chain.plain_hash({**row, "hash_alg": chain.LEGACY})
    assert event.hash != chain.keyed_hash(row, keys.derive(KEY_B, keys.AUDIT_SALT))
    assert verify().ok


def test_the_subkey_is_never_the_encryption_keys_bytes(settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_KEY = ""
    subkey = keys.current().secret
    assert subkey == crypto.stretch(settings.ENCRYPTION_KEY, keys.SUBKEY_SALT)
    assert subkey != crypto.stretch(settings.ENCRYPTION_KEY, crypto._SALT)  # the Fernet key's bytes
    assert subkey != hashlib.sha256(settings.ENCRYPTION_KEY.encode()).digest()  # the legacy Fernet key
    settings.AUDIT_KEY = KEY_A
    assert keys.current().secret not in (subkey, crypto.stretch(KEY_A, crypto._SALT))


def test_a_rewrite_recomputed_without_the_key_is_named(events):  # type: ignore[no-untyped-def]
    victim = events[2]
    rewrite(victim.id, {"actor_username": "someone-else"}, unkeyed)
    assert f"event #{victim.id} " in problems() and "was altered" in problems()


def test_a_rewrite_under_a_guessed_key_is_named(events):  # type: ignore[no-untyped-def]
    victim, guess = events[3], keys.derive("guessed", keys.AUDIT_SALT)
    rewrite(victim.id, {"detail": "nothing happened"}, lambda r: chain.seal(r, guess))
    assert f"event #{victim.id} " in problems() and f"key id '{guess.id}'" in problems()


def test_a_rewrite_that_keeps_the_key_id_but_not_the_key_is_named(events):  # type: ignore[no-untyped-def]
    victim, guess = events[3], keys.derive("guessed", keys.AUDIT_SALT)
    key_id = events[0].key_id

    def forged(row: dict[str, Any]) -> None:
        row["hash"] = chain.keyed_hash(row, guess)

    rewrite(victim.id, {"detail": "nothing happened"}, forged)
    assert AuditEvent.objects.get(id=victim.id).key_id == key_id
    assert f"event #{victim.id} " in problems() and "was altered" in problems()


def test_a_downgrade_to_unkeyed_hashes_is_refused(events):  # type: ignore[no-untyped-def]
    victim = events[2]
    rewrite(victim.id, {"detail": "x"}, downgraded)
    message = problems()
    assert f"event #{victim.id} " in message
    assert f"unkeyed hash after the keyed chain began at event #{events[0].id}" in message


def test_a_downgrade_of_the_whole_log_is_caught_by_the_anchors(events):  # type: ignore[no-untyped-def]
    anchor.write()
    rewrite(events[0].id, {"detail": "x"}, downgraded)
    assert "no longer has the hash anchored" in problems()


def test_old_unkeyed_rows_verify_and_keyed_ones_follow():  # type: ignore[no-untyped-def]
    """Rows written before this change: plain sha256, hash_alg from the column's default."""
    previous = ""
    for n in range(3):
        row = {**BLANK, "time": timezone.now(), "prev_hash": previous, "detail": f"old {n}"}
        row["hash"] = previous = chain.plain_hash(row)
        AuditEvent.objects.create(**row)
    assert set(AuditEvent.objects.values_list("hash_alg", "key_id")) == {("sha256", "")}
    record("site.edit", actor="system")
    result = verify()
    assert result.ok and result.checked == 4
    assert AuditEvent.objects.latest("id").hash_alg == "hmac-sha256"


def test_a_rewrite_with_the_key_is_caught_by_the_anchors(events, anchor_file):  # type: ignore[no-untyped-def]
    call_command("audit", "anchor", stdout=io.StringIO())
    victim = events[1]
    rewrite(victim.id, {"actor_username": "someone-else"}, chain.seal)
    elsewhere = anchor_file.parent / "none.jsonl"
    assert verify(anchor_file=elsewhere).ok  # the key alone cannot tell
    out = io.StringIO()
    call_command("audit", "verify", "--anchors", str(elsewhere), stdout=out)
    assert "chain intact" in out.getvalue() and f"0 anchors in {elsewhere} match" in out.getvalue()
    message = problems()
    assert f"event #{events[-1].id} " in message and f"{anchor_file} line 1" in message
    with pytest.raises(CommandError, match="no longer has the hash anchored"):
        call_command("audit", "verify")


def test_events_removed_from_the_end_are_caught_by_the_anchors(events):  # type: ignore[no-untyped-def]
    anchor.write()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE panel_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM panel_auditevent WHERE id >= %s", [events[-2].id])
        cursor.execute("ALTER TABLE panel_auditevent ENABLE TRIGGER USER")
    assert f"anchored event #{events[-1].id} " in problems()


def test_rotation_old_keys_still_verify(events, settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_KEY, settings.AUDIT_KEY_OLD = KEY_B, [KEY_A]
    record("site.edit", actor="system", detail="after the rotation")
    ids = {e.key_id for e in AuditEvent.objects.all()}
    assert ids == {keys.derive(KEY_A, keys.AUDIT_SALT).id, keys.derive(KEY_B, keys.AUDIT_SALT).id}
    assert verify().ok
    settings.AUDIT_KEY_OLD = []
    assert f"event #{events[0].id} " in problems() and "PANEL_AUDIT_KEY_OLD" in problems()


def test_setting_an_audit_key_keeps_the_subkey_rows_verifiable(settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_KEY = ""
    record("site.edit", actor="system")
    settings.AUDIT_KEY = KEY_A
    record("site.edit", actor="system")
    assert len(set(AuditEvent.objects.values_list("key_id", flat=True))) == 2
    assert verify().ok


def test_the_anchor_file_is_private_and_appended(events, anchor_file, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level("INFO", logger="panel.audit")
    first = anchor.write()
    record("site.edit", actor="system")
    out = io.StringIO()
    call_command("audit", "anchor", stdout=out)
    lines = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert (anchor_file.stat().st_mode & 0o777) == 0o600
    assert [line["id"] for line in lines] == [events[-1].id, events[-1].id + 1] and lines[0] == first
    assert set(lines[0]) == {"id", "hash", "time", "at"}
    assert f"anchored event #{lines[1]['id']}" in out.getvalue()
    assert any(lines[0]["hash"] in r.getMessage() and r.levelname == "INFO" for r in caplog.records)


def test_a_touched_anchor_file_fails_verify(events, anchor_file):  # type: ignore[no-untyped-def]
    anchor.write()
    with open(anchor_file, "a") as f:
        f.write("not json\n")
        f.write(json.dumps({"id": events[-1].id, "hash": "0" * 64}) + "\n")
    message = problems()
    assert "line 2 is not an anchor" in message and "another hash than line 1" in message
