"""record(): secrets never stored, odd values never raise, the chain links, the right actor."""

import datetime
import decimal
import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import RequestFactory

from panel.audit import Target, cli_actor, context, record
from panel.crypto import MASK, Secret
from panel.models import AuditEvent
from tests import factories
from tests.audit.helpers import as_text

pytestmark = pytest.mark.django_db


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_secrets_are_masked_by_key_anywhere():  # type: ignore[no-untyped-def]
    event = record(
        "site.edit",
        actor="system",
        before={"db_password": "hunter22", "env": {"ADMIN_PASSWD": "x1", "API_TOKEN": "t0k", "LANG": "en"}},
        after={"tls_key": "k3y", "Secret_Thing": "s3c", "registry_password": "", "list": [{"token": "tkz"}]},
    )
    event.refresh_from_db()
    assert event.before == {
        "db_password": MASK,
        "env": {"ADMIN_PASSWD": MASK, "API_TOKEN": MASK, "LANG": "en"},
    }
    assert event.after == {
        "tls_key": MASK,
        "Secret_Thing": MASK,
        "registry_password": "",
        "list": [{"token": MASK}],
    }
    for secret in ("hunter22", "x1", "t0k", "k3y", "s3c", "tkz"):
        assert secret not in as_text(event)


def test_private_keys_and_secret_values_are_masked_wherever_they_are():  # type: ignore[no-untyped-def]
    pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAAsecretmaterial\n-----END RSA PRIVATE KEY-----"
    event = record(
        "cluster.edit",
        actor="system",
        after={"notes": f"pasted {pem} here", "value": Secret("plain-secret")},
        detail=f"oops {pem}",
    )
    event.refresh_from_db()
    assert "secretmaterial" not in as_text(event) and "plain-secret" not in as_text(event)
    assert event.after == {"notes": f"pasted {MASK} here", "value": MASK}


def test_odd_values_never_raise_and_still_verify():  # type: ignore[no-untyped-def]
    """Values jsonb would change (1e20), refuse (NUL) or that cannot be printed: stored so that the
    hash still matches what the database gives back."""
    weird = {
        "nan": float("nan"),
        "inf": float("-inf"),
        "big": 1e20,
        "small": 1e-7,
        "third": 1 / 3,
        "huge_int": 10**30,
        "nul": "a\x00b",
        "surrogate": "x\udcffy",
        "bytes": b"\x00\x01",
        "set": {3, 1, 2},
        "tuple": (1, "two"),
        "when": datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC),
        "money": decimal.Decimal("1.10"),
        "obj": Unprintable(),
        "long": "y" * 10_000,
        5: "int key",
        "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}},
    }
    event = record("site.edit", actor="system", after=weird, target=Unprintable(), detail=Unprintable())  # type: ignore[arg-type]
    event.refresh_from_db()
    assert event.after is not None
    assert event.after["big"] == "1e+20" and event.after["nul"] == "ab" and event.after["set"] == [1, 2, 3]
    assert event.after["obj"] == "<unprintable Unprintable>" and len(event.after["long"]) == 4000
    assert event.target_name == "<unprintable Unprintable>"
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert "chain intact" in out.getvalue()


def test_over_long_names_are_cut_to_fit():  # type: ignore[no-untyped-def]
    event = record("x" * 200, actor="u" * 300, target=Target(type="t", name="n" * 400), site="s" * 100)
    assert len(event.action) == 80 and len(event.actor_username) == 150 and len(event.site_slug) == 64


def test_each_event_links_to_the_one_before():  # type: ignore[no-untyped-def]
    first = record("a.one", actor="system")
    second = record("a.two", actor="system")
    assert first.prev_hash == "" or AuditEvent.objects.filter(hash=first.prev_hash).exists()
    assert second.prev_hash == first.hash and second.hash != first.hash


def test_event_rolls_back_with_the_action():  # type: ignore[no-untyped-def]
    count = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        record("site.deploy", actor="system")
        raise RuntimeError("the deploy failed to start")
    assert AuditEvent.objects.count() == count


def test_database_errors_reach_the_caller(monkeypatch):  # type: ignore[no-untyped-def]
    # Unlike a formatting problem, a failed write is not papered over: the caller's transaction
    # fails, so the action and its audit row go together or not at all.
    from panel.audit import chain

    def broken() -> str:
        raise DatabaseError("connection lost")

    monkeypatch.setattr(chain, "last_hash", broken)
    with pytest.raises(DatabaseError, match="connection lost"):
        record("site.deploy", actor="system")


def test_actor_defaults(personas, monkeypatch):  # type: ignore[no-untyped-def]
    assert (record("beat.tick").actor_username, record("beat.tick").actor_role) == ("system", "system")
    with monkeypatch.context() as patched:
        patched.setattr("sys.argv", ["/srv/panel/manage.py", "somecommand"])
        assert record("site.deploy").actor_username == cli_actor()  # a command that named no actor
    cli = record("users.add", actor=cli_actor())
    assert cli.actor_username.startswith("cli:") and cli.actor_role == "cli"
    request = RequestFactory().post("/", REMOTE_ADDR="10.1.2.3")
    request.user = personas.users["approver"]
    request.request_id = "req-123456"  # type: ignore[attr-defined]
    with context.bound(request):  # as RequestIdMiddleware does: deep code needs no request argument
        event = record("manifest.approve", target="change 7")
    assert (event.actor_username, event.actor_role, event.actor_user_id) == (
        "carol",
        "approver",
        request.user.pk,
    )
    assert (event.request_id, event.client_address) == ("req-123456", "10.1.2.3")


def test_site_and_cluster_come_from_the_target_or_the_job(personas):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(name="eu"), slug="shop")
    domain = factories.domain(site, "a.example.com")
    assert (
        record("domain.edit", actor="system", target=domain).site_slug,
        record("x.y", target=domain).cluster_name,
    ) == (
        "shop",
        "eu",
    )

    class Job:
        pk = 41
        site = None

    job = Job()
    job.site = site  # type: ignore[assignment]
    event = record("site.deploy", actor="system", job=job)
    assert (event.job_id, event.site_slug, event.cluster_name) == (41, "shop", "eu")
    assert record("site.deploy", actor="system", job=42, site="other", cluster="c").job_id == 42
    by_site = record("site.backup", actor="system", site=site, job=43)
    assert (by_site.site_slug, by_site.cluster_name, by_site.job_id) == ("shop", "eu", 43)
