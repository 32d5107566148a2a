"""The edge's default certificate: refused unless it is a certificate, its key is its own and it is valid
now; rendered as Swarm secrets named by their content; shown with its days left."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command

from clusters.certs import CertificateError, check_pair
from clusters.edge.render import CERT_FILE, TLS_CONFIG_FILE, edge_service, tls_secret_name, traefik_args
from clusters.forms import EdgeForm
from clusters.models import Cluster, Edge
from panel.cli import form_data
from panel.crypto import reveal
from tests import factories

NOW = dt.datetime.now(dt.UTC)


def pair(*, starts: dt.datetime = NOW - dt.timedelta(days=1), days: int = 90) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(starts)
        .not_valid_after(starts + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.example.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def test_a_valid_pair_is_read_with_its_names_and_days_left() -> None:
    cert, key = pair(days=31)
    info = check_pair(cert, key)
    assert info.subject == "*.example.com" and info.names == ("*.example.com",)
    assert info.days_left() == 29 and info.as_json()["days_left"] == 29


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: pair(starts=NOW - dt.timedelta(days=100), days=90), "expired on"),
        (lambda: pair(starts=NOW + dt.timedelta(days=3)), "is not valid before"),
        (lambda: (pair()[0], pair()[1]), "the key does not belong to the certificate"),
        (lambda: ("hello", pair()[1]), "is not a PEM certificate"),
        (
            lambda: (pair()[0], "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            "not an unencrypted",
        ),
        (lambda: ("A" * 70_000, pair()[1]), "is over 64 KiB"),
    ],
)
def test_a_pair_the_edge_cannot_serve_is_refused_saying_why(make, expected) -> None:  # type: ignore[no-untyped-def]
    cert, key = make()
    with pytest.raises(CertificateError, match=expected):
        check_pair(cert, key)


def _edge(**kw) -> Edge:  # type: ignore[no-untyped-def]
    return Edge(cluster=Cluster(name="prod", endpoint="tcp://manager.example:2376"), **kw)


def test_the_certificate_reaches_traefik_as_secrets_named_by_their_content() -> None:
    cert, key = pair()
    edge = _edge(default_cert=cert, default_key=key)
    spec = edge_service(edge, {tls_secret_name(CERT_FILE, cert.encode()): "id1"})
    names = {ref["SecretName"]: ref for ref in spec.secrets}
    assert len(names) == 3 and all(ref["File"]["Mode"] == 0o400 for ref in names.values())
    assert names[tls_secret_name(CERT_FILE, cert.encode())]["SecretID"] == "id1"
    assert f"--providers.file.filename=/run/secrets/{TLS_CONFIG_FILE}" in spec.args
    assert key not in json.dumps(spec.args) + json.dumps(spec.env)  # never in the service's own spec
    other_cert, _ = pair()
    assert tls_secret_name(CERT_FILE, other_cert.encode()) not in names  # a new certificate: new secrets
    assert (
        not any("providers.file" in a for a in traefik_args(_edge())) and edge_service(_edge()).secrets == []
    )


@pytest.mark.django_db
def test_the_form_wants_the_key_keeps_it_when_left_blank_and_the_certificate_is_the_switch() -> None:
    cert, key = pair()
    edge = Edge.objects.create(cluster=factories.cluster())
    alone = EdgeForm({**form_data(edge, EdgeForm), "default_cert": cert}, instance=edge)
    assert not alone.is_valid() and "private key" in str(alone.errors)
    saved = EdgeForm({**form_data(edge, EdgeForm), "default_cert": cert, "default_key": key}, instance=edge)
    assert saved.is_valid(), saved.errors
    saved.save()
    edge.refresh_from_db()
    again = EdgeForm(
        {**form_data(edge, EdgeForm, blank=("default_key",)), "image": "traefik:v3.7.1"}, instance=edge
    )
    assert again.is_valid(), again.errors
    again.save()
    edge.refresh_from_db()
    assert reveal(edge.default_key) == key.strip() and edge.image == "traefik:v3.7.1"
    cleared = EdgeForm(
        {**form_data(edge, EdgeForm, blank=("default_key",)), "default_cert": ""}, instance=edge
    )
    assert cleared.is_valid(), cleared.errors
    cleared.save()
    edge.refresh_from_db()
    assert edge.default_cert == "" and reveal(edge.default_key) == ""


@pytest.mark.django_db
def test_an_expired_certificate_is_refused_by_the_command_and_nothing_changes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    started = []
    monkeypatch.setattr("clusters.management.commands.cluster.start_job", lambda *a, **k: started.append(a))
    cluster = factories.cluster(name="prod")
    cert, key = pair(starts=NOW - dt.timedelta(days=100), days=90)
    (tmp_path / "c.pem").write_text(cert)
    (tmp_path / "k.pem").write_text(key)
    args = ["--default-cert", str(tmp_path / "c.pem"), "--default-key", str(tmp_path / "k.pem")]
    with pytest.raises(CommandError, match="expired on") as refused:
        call_command("cluster", "edge", "deploy", "prod", *args, stdout=StringIO())
    assert (
        refused.value.returncode == 2 and started == [] and not Edge.objects.filter(cluster=cluster).exists()
    )
    good_cert, good_key = pair()
    (tmp_path / "c.pem").write_text(good_cert)
    (tmp_path / "k.pem").write_text(good_key)
    call_command("cluster", "edge", "deploy", "prod", *args, stdout=StringIO())
    edge = Edge.objects.get(cluster=cluster)
    assert (
        started
        and edge.default_certificate is not None
        and edge.default_certificate.subject == "*.example.com"
    )
