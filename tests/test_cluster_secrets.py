"""A cluster's TLS CA, client certificate and key are stored encrypted and never shown or logged."""

import importlib
import os
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from clusters.engine import _tls_files
from clusters.models import Cluster
from panel.crypto import MASK, Secret, encrypt
from panel.models import AuditEvent
from tests.clusters.pki import CA

pytestmark = pytest.mark.django_db

migration = importlib.import_module("clusters.migrations.0005_cluster_tls_pems_encrypted")

PEM_MARKERS = ("BEGIN CERTIFICATE", "BEGIN PRIVATE KEY", "PRIVATE KEY-----")


@pytest.fixture(scope="module")
def pki() -> SimpleNamespace:
    ca = CA()
    client = ca.issue("panel", server=False)
    return SimpleNamespace(ca=ca.pem, cert=client.cert, key=client.key)


def raw(pk: int) -> dict[str, str]:
    with connection.cursor() as cur:
        cur.execute("SELECT tls_ca, tls_cert, tls_key FROM clusters_cluster WHERE id = %s", [pk])
        row = cur.fetchone()
    return dict(zip(("tls_ca", "tls_cert", "tls_key"), row, strict=True))


def assert_no_pem(text: Any) -> None:
    for marker in PEM_MARKERS:
        assert marker not in str(text)


def pems(c: Cluster) -> tuple[str, str, str]:
    """The stored PEMs as the form saved them (a form field strips the final newline)."""
    return c.tls_ca.reveal(), c.tls_cert.reveal(), c.tls_key.reveal()


def stripped(*values: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in values)


def tls_form(pki: SimpleNamespace, **over: str) -> dict[str, str]:
    return {
        "name": "prod",
        "endpoint": "tcp://manager.example.com:2376",
        "tls_ca": pki.ca,
        "tls_cert": pki.cert,
        "tls_key": pki.key,
        **over,
    }


def test_raw_columns_hold_no_pem_after_save(pki):  # type: ignore[no-untyped-def]
    c = Cluster.objects.create(
        name="tls", endpoint="tcp://m:2376", tls_ca=pki.ca, tls_cert=pki.cert, tls_key=pki.key
    )
    stored = raw(c.pk)
    for value in stored.values():
        assert value and value.startswith(migration.TOKEN_PREFIX)
        assert_no_pem(value)
    fresh = Cluster.objects.get(pk=c.pk)
    assert isinstance(fresh.tls_ca, Secret) and isinstance(fresh.tls_cert, Secret)
    assert (fresh.tls_ca.reveal(), fresh.tls_cert.reveal()) == (pki.ca, pki.cert)
    assert_no_pem(repr(fresh.tls_ca))
    assert_no_pem(repr(fresh.tls_cert))
    fresh.save()  # a second save encrypts the plain text again, never the token
    assert Cluster.objects.get(pk=c.pk).tls_cert.reveal() == pki.cert


def test_cli_add_stores_them_encrypted(pki, tmp_path):  # type: ignore[no-untyped-def]
    paths = {}
    for name in ("ca", "cert", "key"):
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_text(getattr(pki, name))
    call_command(
        "cluster",
        "add",
        "cli",
        "--endpoint",
        "tcp://m:2376",
        "--tls-ca",
        str(paths["ca"]),
        "--tls-cert",
        str(paths["cert"]),
        "--tls-key",
        str(paths["key"]),
    )
    c = Cluster.objects.get(name="cli")
    assert_no_pem(raw(c.pk))
    assert pems(c) == (pki.ca.strip(), pki.cert.strip(), pki.key.strip())  # through the page's form


def test_migration_encrypts_plaintext_rows_and_is_idempotent(pki):  # type: ignore[no-untyped-def]
    key_token = encrypt(pki.key)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO clusters_cluster (name, endpoint, tls_ca, tls_cert, tls_key, is_lab, status, "
            "status_message, engine_version, created_at) "
            "VALUES ('old', 'tcp://m:2376', %s, %s, %s, false, 'unknown', '', '', now()) RETURNING id",
            [pki.ca, pki.cert, key_token],
        )
        old = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO clusters_cluster (name, endpoint, tls_ca, tls_cert, tls_key, is_lab, status, "
            "status_message, engine_version, created_at) "
            "VALUES ('plain', 'unix:///var/run/docker.sock', '', '', '', false, 'unknown', '', '', now()) "
            "RETURNING id",
        )
        empty = cur.fetchone()[0]
    assert "BEGIN CERTIFICATE" in raw(old)["tls_cert"]  # what a row written before 0005 holds

    editor = SimpleNamespace(connection=connection)
    migration.encrypt_tls_pems(apps, editor)
    once = raw(old)
    assert_no_pem(once)
    assert once["tls_key"] == key_token  # a column the migration does not touch
    assert raw(empty) == {"tls_ca": "", "tls_cert": "", "tls_key": ""}
    c = Cluster.objects.get(pk=old)
    assert (c.tls_ca.reveal(), c.tls_cert.reveal(), c.tls_key.reveal()) == (pki.ca, pki.cert, pki.key)

    migration.encrypt_tls_pems(apps, editor)  # already encrypted: skipped, not encrypted twice
    assert raw(old) == once

    migration.decrypt_tls_pems(apps, editor)
    back = raw(old)
    assert (back["tls_ca"], back["tls_cert"]) == (pki.ca, pki.cert)
    migration.decrypt_tls_pems(apps, editor)  # already plain: left alone
    assert raw(old) == back


def test_migration_refuses_a_token_from_another_key(pki, settings):  # type: ignore[no-untyped-def]
    c = Cluster.objects.create(
        name="k", endpoint="tcp://m:2376", tls_ca=pki.ca, tls_cert=pki.cert, tls_key="K"
    )
    before = raw(c.pk)
    settings.ENCRYPTION_KEY = "another key, not the one these were saved with"
    with pytest.raises(Exception, match="another PANEL_ENCRYPTION_KEY"):
        migration.encrypt_tls_pems(apps, SimpleNamespace(connection=connection))
    assert raw(c.pk) == before


def test_form_round_trip_keeps_blank_pems_and_never_renders_them(personas, pki):  # type: ignore[no-untyped-def]
    client = personas.client("admin")
    response = client.post(reverse("cluster-create"), tls_form(pki))
    assert response.status_code == 302, response.content.decode()[:2000]
    c = Cluster.objects.get(name="prod")
    assert_no_pem(raw(c.pk))

    for url in (
        reverse("cluster-edit", args=[c.pk]),
        c.get_absolute_url(),
        reverse("cluster-live", args=[c.pk]),
    ):
        page = client.get(url).content.decode()
        assert_no_pem(page)
        assert pki.ca.splitlines()[1] not in page and pki.cert.splitlines()[1] not in page
    assert "stored encrypted" in client.get(reverse("cluster-live", args=[c.pk])).content.decode()

    # Left blank on edit: the stored PEMs stay, as the key always did.
    response = client.post(
        reverse("cluster-edit", args=[c.pk]),
        tls_form(pki, endpoint="tcp://manager.example.com:2377", tls_ca="", tls_cert="", tls_key=""),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    c.refresh_from_db()
    assert c.endpoint == "tcp://manager.example.com:2377"
    assert pems(c) == stripped(pki.ca, pki.cert, pki.key)

    # A new PEM replaces the stored one.
    other = CA("other CA")
    response = client.post(reverse("cluster-edit", args=[c.pk]), tls_form(pki, tls_ca=other.pem, tls_key=""))
    assert response.status_code == 302
    c.refresh_from_db()
    assert pems(c) == stripped(other.pem, pki.cert, pki.key)

    # A new cluster cannot keep anything: blank PEMs on create are refused for tcp.
    response = client.post(reverse("cluster-create"), tls_form(pki, name="new", tls_ca=""))
    assert response.status_code == 400 and not Cluster.objects.filter(name="new").exists()


def test_audit_masks_the_pems(personas, pki):  # type: ignore[no-untyped-def]
    client = personas.client("admin")
    client.post(reverse("cluster-create"), tls_form(pki))
    c = Cluster.objects.get(name="prod")
    other = CA("other CA")
    client.post(
        reverse("cluster-edit", args=[c.pk]), tls_form(pki, tls_ca=other.pem, tls_cert="", tls_key="")
    )
    client.post(reverse("cluster-delete", args=[c.pk]))

    events = {e.action: e for e in AuditEvent.objects.filter(action__startswith="cluster.")}
    assert set(events) >= {"cluster.create", "cluster.edit", "cluster.delete"}
    assert events["cluster.create"].after["tls_ca"] == MASK
    assert events["cluster.create"].after["tls_cert"] == MASK
    # Only the CA changed: it is named (masked) on both sides, the kept certificate not at all.
    assert events["cluster.edit"].before == {"tls_ca": MASK}
    assert events["cluster.edit"].after == {"tls_ca": MASK}
    assert events["cluster.delete"].before["tls_cert"] == MASK
    for event in events.values():
        assert_no_pem(event.before)
        assert_no_pem(event.after)
        assert_no_pem(event.detail)


def test_audit_masks_the_pems_by_key_name(pki):  # type: ignore[no-untyped-def]
    from panel.audit import record

    event = record(
        "cluster.edit", actor="system", before={"tls_ca": pki.ca}, after={"cluster": {"tls_cert": pki.cert}}
    )
    event.refresh_from_db()
    assert event.before == {"tls_ca": MASK}
    assert event.after == {"cluster": {"tls_cert": MASK}}


def test_engine_gets_the_decrypted_pems(pki):  # type: ignore[no-untyped-def]
    Cluster.objects.create(
        name="tls", endpoint="tcp://m:2376", tls_ca=pki.ca, tls_cert=pki.cert, tls_key=pki.key
    )
    cluster = Cluster.objects.get(name="tls")  # read back: Secret values, as the engine gets them
    with _tls_files(cluster) as tls:
        folder = os.path.dirname(tls.ca_cert)
        assert os.stat(folder).st_mode & 0o777 == 0o700
        cert_path, key_path = tls.cert
        with open(tls.ca_cert) as ca, open(cert_path) as cert, open(key_path) as key:
            assert (ca.read(), cert.read(), key.read()) == (pki.ca, pki.cert, pki.key)
    assert not os.path.exists(folder)
