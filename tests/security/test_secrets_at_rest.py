"""Secrets at rest: a decrypted `Secret` shows its mask to str(), format() and %s (not only to repr),
`.reveal()` / `panel.crypto.reveal()` give the plain text; the key is stretched by a real KDF
(scrypt), what the old bare SHA-256 derivation saved still decrypts, and PANEL_ENCRYPTION_KEY_OLD
with `manage.py encryption reencrypt` rotates the key."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import TextField, Value
from django.template import Context, Template

from clusters.models import Cluster, Site
from panel.crypto import MASK, Secret, decrypt, encrypt, reveal
from panel.models import AuditEvent
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
PLAIN = "hunter2-the-plain-text"
OLD_KEY = "the key these secrets were saved with, long enough"
NEW_KEY = "the key they must move to, also long enough to pass"


def legacy(key: str) -> Fernet:
    """How the panel stretched PANEL_ENCRYPTION_KEY before: one SHA-256 of it."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def shown(secret: Secret) -> dict[str, str]:
    """Every way a value reaches a log line, a page or an error message without asking for it."""
    printed = io.StringIO()
    print(secret, file=printed)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "password %s and %r", (secret, secret), None)
    return {
        "str": str(secret),
        "repr": repr(secret),
        "f-string": f"{secret}",
        "f-string !s": f"{secret!s}",
        "f-string !r": f"{secret!r}",
        "f-string spec": f"{secret:>40}",
        "format()": format(secret),
        "format() spec": format(secret, "<40"),
        "str.format": "{}".format(secret),  # noqa: UP032 - str.format is what is tested
        "%s": "%s" % secret,  # noqa: UP031 - %-formatting is what is tested
        "%s tuple": "%s" % (secret,),  # noqa: UP031
        "%(name)s": "%(p)s" % {"p": secret},  # noqa: UP031
        "print": printed.getvalue(),
        "logging": record.getMessage(),
    }


def test_str_format_and_percent_show_the_mask() -> None:
    for how, text in shown(Secret(PLAIN)).items():
        assert PLAIN not in text, how
        assert MASK in text, how


@pytest.mark.django_db
def test_a_template_shows_the_mask() -> None:
    html = Template("{{ s }} {{ s|upper }} {% filter lower %}{{ s }}{% endfilter %}").render(
        Context({"s": Secret(PLAIN)})
    )
    assert PLAIN.lower() not in html.lower() and MASK in html


def test_concatenation_is_refused() -> None:
    secret = Secret(PLAIN)
    with pytest.raises(TypeError, match="reveal"):
        "password=" + secret  # noqa: B018
    with pytest.raises(TypeError, match="reveal"):
        secret + "!"  # noqa: B018


def test_reveal_is_the_way_to_the_plain_text() -> None:
    secret = Secret(PLAIN)
    assert secret.reveal() == PLAIN and type(secret.reveal()) is str
    assert reveal(secret) == PLAIN and type(reveal(secret)) is str
    assert reveal("just typed") == "just typed" and reveal(None) == "" and reveal(Secret("")) == ""
    assert str(Secret("")) == "" and not Secret("") and Secret(PLAIN)


@pytest.mark.django_db
def test_stored_secrets_come_back_masked() -> None:
    site = factories.site(factories.cluster(), registry_username="u", registry_password=PLAIN)
    fresh = Site.objects.get(pk=site.pk)
    for value in (fresh.registry_password, fresh.db_password):
        assert isinstance(value, Secret)
        assert MASK == str(value) == f"{value}" == "%s" % value  # noqa: UP031
    assert reveal(fresh.registry_password) == PLAIN
    column = (
        Site.objects.annotate(raw=_raw("registry_password")).values_list("raw", flat=True).get(pk=site.pk)
    )
    assert column and PLAIN not in column  # the column holds ciphertext


def _raw(field: str):  # type: ignore[no-untyped-def]
    from django.db.models.functions import Cast

    return Cast(field, output_field=TextField())


def test_the_key_is_stretched_by_a_kdf_not_a_bare_hash(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_OLD = NEW_KEY, []
    token = encrypt(PLAIN)
    with pytest.raises(InvalidToken):
        legacy(NEW_KEY).decrypt(token.encode())
    assert decrypt(token) == PLAIN


def test_what_the_old_derivation_saved_still_decrypts(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_OLD = NEW_KEY, []
    assert decrypt(legacy(NEW_KEY).encrypt(PLAIN.encode()).decode()) == PLAIN


def test_old_keys_decrypt_and_the_current_one_encrypts(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_OLD = OLD_KEY, []
    saved = [encrypt(PLAIN), legacy(OLD_KEY).encrypt(PLAIN.encode()).decode()]
    settings.ENCRYPTION_KEY = NEW_KEY
    for token in saved:
        with pytest.raises(ImproperlyConfigured, match="PANEL_ENCRYPTION_KEY"):
            decrypt(token)
    settings.ENCRYPTION_KEY_OLD = ["an older one, long retired, of 32+ chars", OLD_KEY]
    assert [decrypt(token) for token in saved] == [PLAIN, PLAIN]
    fresh = encrypt(PLAIN)
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_OLD = OLD_KEY, []
    with pytest.raises(ImproperlyConfigured):
        decrypt(fresh)  # made with the new key only


def test_old_keys_come_from_the_environment(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.ENCRYPTION_KEY_OLD)"
    )
    env = {
        **os.environ,
        "PANEL_ENCRYPTION_KEY_OLD": " first-old-key , second-old-key,,",
        "PANEL_VAR_DIR": str(tmp_path),
    }
    env["DJANGO_SETTINGS_MODULE"] = "panel.settings"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['first-old-key', 'second-old-key']"


def _raw_tokens() -> list[str]:
    tokens = []
    for model, fields in (
        (Cluster, ("tls_ca", "tls_cert", "tls_key")),
        (Site, ("db_password", "registry_password", "admin_password", "redis_password")),
    ):
        for field in fields:
            tokens += [t for t in model.objects.annotate(raw=_raw(field)).values_list("raw", flat=True) if t]
    return tokens


@pytest.fixture
def saved_with_the_old_key(settings, db):  # type: ignore[no-untyped-def]
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_OLD = OLD_KEY, []
    cluster = Cluster.objects.create(
        name="k", endpoint="tcp://m:2376", tls_ca="CA", tls_cert="CERT", tls_key="KEY"
    )
    site = factories.site(cluster, registry_username="u", registry_password=PLAIN)
    # One value as the old derivation saved it, before this change.
    Site.objects.filter(pk=site.pk).update(
        registry_password=Value(legacy(OLD_KEY).encrypt(PLAIN.encode()).decode(), output_field=TextField())
    )
    settings.ENCRYPTION_KEY, settings.ENCRYPTION_KEY_OLD = NEW_KEY, [OLD_KEY]
    return cluster, site


@pytest.mark.django_db
def test_reencrypt_moves_every_secret_to_the_current_key(saved_with_the_old_key, settings) -> None:  # type: ignore[no-untyped-def]
    cluster, site = saved_with_the_old_key
    before = _raw_tokens()
    assert len(before) == 7

    out = io.StringIO()
    call_command("encryption", "reencrypt", "--dry-run", stdout=out)
    assert "7 of 7" in out.getvalue() and _raw_tokens() == before

    out = io.StringIO()
    call_command("encryption", "reencrypt", stdout=out)
    assert "7 of 7" in out.getvalue()
    assert AuditEvent.objects.filter(action="encryption.reencrypt").count() == 1

    settings.ENCRYPTION_KEY_OLD = []  # the old key can go now
    fresh_cluster, fresh_site = Cluster.objects.get(pk=cluster.pk), Site.objects.get(pk=site.pk)
    assert (reveal(fresh_cluster.tls_ca), reveal(fresh_cluster.tls_cert), reveal(fresh_cluster.tls_key)) == (
        "CA",
        "CERT",
        "KEY",
    )
    assert reveal(fresh_site.registry_password) == PLAIN and reveal(fresh_site.db_password)
    assert reveal(fresh_site.redis_password)

    out = io.StringIO()
    call_command("encryption", "reencrypt", stdout=out)  # a second run has nothing to do
    assert "0 of 7" in out.getvalue()


@pytest.mark.django_db
def test_reencrypt_stops_on_a_value_no_key_opens(saved_with_the_old_key, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ENCRYPTION_KEY_OLD = []  # the old key forgotten too early
    before = _raw_tokens()
    with pytest.raises(CommandError, match="no key") as refused:
        call_command("encryption", "reencrypt")
    assert refused.value.returncode == 2
    assert _raw_tokens() == before


@pytest.mark.parametrize("key", ["", "x", "a" * 31])
def test_production_refuses_a_short_encryption_key(key: str) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PANEL_MODE": "production",
        "PANEL_SECRET_KEY": "s" * 60,
        "PANEL_ENCRYPTION_KEY": key,
    }
    env.pop("PANEL_ENCRYPTION_KEY_FILE", None)
    done = subprocess.run(
        [sys.executable, "-c", "import panel.settings"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "PANEL_ENCRYPTION_KEY (32+ characters" in done.stderr
