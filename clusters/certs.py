"""The edge's default certificate: what Traefik serves for a name that no other certificate covers.

Checked before it is ever stored or rendered, because a bad one is found by users, not by the panel:
the PEM must hold a certificate (and its chain) and, with the key, a private key of that certificate;
a certificate that has expired or is not valid yet is refused with its dates. What is left of its
life is shown with the edge and in the edge's status, so a renewal is not discovered by a browser.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

MAX_PEM_BYTES = 64 * 1024  # a leaf and a few intermediates; far more is not a certificate chain
RENEW_WITHIN_DAYS = 14


class CertificateError(ValueError):
    """A certificate or key the edge cannot serve; the message says why, for ops."""


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime

    def days_left(self, now: dt.datetime | None = None) -> int:
        return (self.not_after - (now or dt.datetime.now(dt.UTC))).days

    def as_json(self, now: dt.datetime | None = None) -> dict[str, object]:
        return {
            "subject": self.subject,
            "names": list(self.names),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(now),
        }


def _leaf(pem: str) -> x509.Certificate:
    if len(pem.encode()) > MAX_PEM_BYTES:
        raise CertificateError(f"the certificate PEM is over {MAX_PEM_BYTES // 1024} KiB")
    try:
        chain = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise CertificateError(
            "the certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
        ) from exc
    return chain[0]


def certificate_info(pem: str) -> CertificateInfo:
    """The leaf certificate's subject, DNS names and validity; CertificateError if it is not one."""
    cert = _leaf(pem)
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(alt.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(
        subject=str(common[0].value) if common else cert.subject.rfc4514_string(),
        names=names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def check_pair(cert_pem: str, key_pem: str, now: dt.datetime | None = None) -> CertificateInfo:
    """The certificate, if the key is its own and it is valid now; else CertificateError."""
    info = certificate_info(cert_pem)
    now = now or dt.datetime.now(dt.UTC)
    if info.not_after <= now:
        raise CertificateError(
            f"the certificate for {info.subject} expired on {info.not_after:%Y-%m-%d %H:%M} UTC"
        )
    if info.not_before > now:
        raise CertificateError(
            f"the certificate for {info.subject} is not valid before {info.not_before:%Y-%m-%d} UTC"
        )
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError("the key is not an unencrypted PEM private key") from exc
    public = (
        _leaf(cert_pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    if (
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        != public
    ):
        raise CertificateError(f"the key does not belong to the certificate for {info.subject}")
    return info
