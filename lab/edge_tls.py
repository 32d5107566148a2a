"""The lab's certificate authority and the wildcard certificate its edge serves for `*.lab.test`.

With it, clients of the lab (tests, benchmarks, `curl --cacert`) verify the edge's certificate for the
site's name given as SNI, as a browser does, instead of accepting whatever is served. Made once and
kept in the lab's state folder; the site certificate is made again when it nears its end or when the
CA changed. Only the lab uses this: production edges take a certificate an admin gives.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lab import config

DOMAIN = "lab.test"
CA_CERT = config.STATE_DIR / "edge-ca.crt"
CA_KEY = config.STATE_DIR / "edge-ca.key"
SITE_CERT = config.STATE_DIR / "edge-lab-test.crt"
SITE_KEY = config.STATE_DIR / "edge-lab-test.key"
CA_DAYS, SITE_DAYS, RENEW_DAYS = 3650, 365, 30


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def _certificate(
    subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, signer, days: int, ca: bool
):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName(f"*.{DOMAIN}"), x509.DNSName(DOMAIN)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _ensure_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if CA_CERT.exists() and CA_KEY.exists():
        cert = x509.load_pem_x509_certificate(CA_CERT.read_bytes())
        if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=RENEW_DAYS):
            key = serialization.load_pem_private_key(CA_KEY.read_bytes(), password=None)
            return cert, key  # type: ignore[return-value]
    key = ec.generate_private_key(ec.SECP256R1())
    name = "Odoo Swarm Panel lab CA"
    cert = _certificate(
        name, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key, key, CA_DAYS, True
    )
    _write(CA_KEY, _pem_key(key), 0o600)
    _write(CA_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    SITE_CERT.unlink(missing_ok=True)  # signed by the CA that is gone
    return cert, key


def ensure_site_certificate() -> tuple[str, str]:
    """(certificate chain PEM, key PEM) for *.lab.test, signed by the lab's CA (made when missing)."""
    ca_cert, ca_key = _ensure_ca()
    if SITE_CERT.exists() and SITE_KEY.exists():
        cert = x509.load_pem_x509_certificate(SITE_CERT.read_bytes())
        fresh = cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=RENEW_DAYS)
        if fresh and cert.issuer == ca_cert.subject:
            return SITE_CERT.read_text() + CA_CERT.read_text(), SITE_KEY.read_text()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(f"*.{DOMAIN}", ca_cert.subject, key, ca_key, SITE_DAYS, False)
    _write(SITE_KEY, _pem_key(key), 0o600)
    _write(SITE_CERT, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return SITE_CERT.read_text() + CA_CERT.read_text(), SITE_KEY.read_text()
