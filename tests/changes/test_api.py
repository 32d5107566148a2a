"""The HTTP API: tokens, roles, the verdict equal to `manage.py gate check --json`, dry runs, CSRF."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from clusters.approvals import tokens
from clusters.approvals.models import ApiToken, ManifestChange
from panel.models import AuditEvent
from tests.changes.conftest import ABOVE_TRAP, ROOT, TRAP_ADDON, small_zip, upload

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, data: dict, token: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, data, headers=headers)


def gate_check_cli(tree: Path, slug: str, select: str | None = None) -> tuple[int, dict]:
    """`manage.py gate check --site SLUG --json` in another process, inside the unpacked tree."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    args = ["--addons-path", "addons", "--series", "17.0", "--site", slug, "--json"]
    args += ["--select", select] if select else []
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "gate", "check", *args],
        cwd=tree,
        env={**os.environ, "PANEL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)


@pytest.mark.django_db(transaction=True)  # the command runs in another process: the rows must be committed
def test_operator_token_gets_201_and_the_verdict_of_gate_check(
    personas, site, operator_token, trap_zip, tmp_path
):
    response = post(
        Client(),
        reverse("api-change-submit", args=[site.slug]),
        {"archive": upload(trap_zip), "select": TRAP_ADDON, "title": "MR !42"},
        operator_token,
    )
    assert response.status_code == 201
    body = response.json()
    change = ManifestChange.objects.get()
    assert body["change"]["id"] == change.pk and body["change"]["state"] == "blocked" == change.state
    assert body["change"]["submitted_by"] == "bob" and change.source == "api" and change.title == "MR !42"
    verdict = {k: v for k, v in body.items() if k != "change"}

    zipfile.ZipFile(_write(tmp_path / "trap.zip", trap_zip)).extractall(tmp_path / "tree")
    code, cli = gate_check_cli(tmp_path / "tree", site.slug, TRAP_ADDON)
    assert code == 1 and verdict == cli == change.verdict
    assert verdict["blocked"] == [TRAP_ADDON]
    assert verdict["addons"][TRAP_ADDON]["blast_radius"] == sorted([TRAP_ADDON, *ABOVE_TRAP])
    assert AuditEvent.objects.filter(action="manifest.submit", actor_username="bob").count() == 1


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_missing_or_revoked_token_is_401(personas, site, operator_token):
    url = reverse("api-change-submit", args=[site.slug])
    data = {"archive": upload(small_zip(["base"]))}
    for token in ("osp_not-a-token", "garbage", operator_token + "x"):
        response = post(Client(), url, data, token)
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert Client().post(url, data).status_code == 401
    assert Client().post(url, data, headers={"Authorization": f"Basic {operator_token}"}).status_code == 401
    token = ApiToken.objects.get()
    tokens.revoke(token, actor=personas.users["operator"])
    assert post(Client(), url, {"archive": upload(small_zip(["base"]))}, operator_token).status_code == 401
    assert not ManifestChange.objects.exists()


def test_viewer_token_is_403_and_reads_only(personas, site, make_change):
    _, secret = tokens.create(personas.users["viewer"], "dashboard")
    url = reverse("api-change-submit", args=[site.slug])
    response = post(Client(), url, {"archive": upload(small_zip(["base"]))}, secret)
    assert response.status_code == 403 and "operate" in response.json()["error"]
    assert post(Client(), reverse("api-site-check", args=[site.slug]), {}, secret).status_code == 403
    change = make_change(personas.users["operator"])
    got = Client().get(
        reverse("api-change-detail", args=[change.pk]), headers={"Authorization": f"Bearer {secret}"}
    )
    assert got.status_code == 200 and got.json()["change"]["state"] == "pending"


def test_a_deactivated_users_token_stops_working(personas, site, operator_token):
    bob = personas.users["operator"]
    bob.is_active = False
    bob.save()
    response = post(Client(), reverse("api-site-check", args=[site.slug]), {}, operator_token)
    assert response.status_code == 401


def test_dry_run_and_check_answer_without_storing(site, operator_token, trap_zip):
    for url in (
        reverse("api-change-submit", args=[site.slug]) + "?dry_run=1",
        reverse("api-site-check", args=[site.slug]),
    ):
        response = post(Client(), url, {"archive": upload(trap_zip), "select": TRAP_ADDON}, operator_token)
        assert response.status_code == 200
        body = response.json()
        assert body["change"] is None and body["passes"] is False and body["blocked"] == [TRAP_ADDON]
    assert not ManifestChange.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="manifest.").exists()


def test_get_a_change_and_follow_its_state(personas, site, operator_token):
    response = post(
        Client(),
        reverse("api-change-submit", args=[site.slug]),
        {"archive": upload(small_zip(["base", "web"]))},
        operator_token,
    )
    assert response.status_code == 201 and response.json()["passes"] is True
    change_id = response.json()["change"]["id"]
    url = reverse("api-change-detail", args=[change_id])
    got = Client().get(url, headers={"Authorization": f"Bearer {operator_token}"}).json()
    assert got["change"]["state"] == "pending" and got["change"]["may_update"] is False
    assert got["passes"] is True and got["installed_snapshot"]["source"] == "site:acme"
    personas.client("approver").post(reverse("change-approve", args=[change_id]), {"confirm": "yes"})
    got = Client().get(url, headers={"Authorization": f"Bearer {operator_token}"}).json()
    assert got["change"]["state"] == "approved" and got["change"]["may_update"] is True
    assert [d["by"] for d in got["change"]["decisions"]] == ["carol"]
    missing = Client().get(
        reverse("api-change-detail", args=[999999]), headers={"Authorization": f"Bearer {operator_token}"}
    )
    assert missing.status_code == 404 and missing.json()["error"]


def test_input_errors(site, unread_site, operator_token):
    token = operator_token
    submit = reverse("api-change-submit", args=[site.slug])
    assert post(Client(), submit, {}, token).json()["error"].startswith("send the addons")
    assert post(Client(), submit, {}, token).status_code == 400
    bad_select = post(Client(), submit, {"archive": upload(small_zip(["base"])), "select": "a/b"}, token)
    assert bad_select.status_code == 400 and "select" in bad_select.json()["error"]
    unknown = post(Client(), reverse("api-change-submit", args=["nope"]), {}, token)
    assert unknown.status_code == 404
    unread = post(
        Client(),
        reverse("api-change-submit", args=[unread_site.slug]),
        {"archive": upload(small_zip(["base"]))},
        token,
    )
    assert unread.status_code == 409 and "never been read" in unread.json()["error"]
    assert unread.json()["read_modules"] == reverse("site-read-modules", args=[unread_site.slug])
    wrong_method = Client().get(submit, headers={"Authorization": f"Bearer {token}"})
    assert wrong_method.status_code == 405 and wrong_method["Allow"] == "POST"
    assert not ManifestChange.objects.exists()


def test_csrf_is_skipped_for_tokens_only(personas, site, operator_token):
    url = reverse("api-change-submit", args=[site.slug])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas.users["operator"])
    response = browser.post(url, {"archive": upload(small_zip(["base", "web"]))})
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    assert not ManifestChange.objects.exists()
    with_token = Client(enforce_csrf_checks=True)
    response = with_token.post(
        url,
        {"archive": upload(small_zip(["base", "web"]))},
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert response.status_code == 201


def test_tokens_page_shows_a_secret_once_and_keeps_only_its_hash(personas):
    client = personas.client("operator")
    response = client.post(reverse("token-list"), {"name": "gitlab CI"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    secret = response.context["secret"]
    assert secret.startswith("osp_") and len(secret) >= 40
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert secret not in client.get(reverse("token-list")).content.decode()  # shown once
    event = AuditEvent.objects.get(action="api_token.create")
    assert event.actor_username == "bob" and secret not in json.dumps(event.after)

    assert (
        personas.client("admin").post(reverse("token-revoke", args=[token.pk])).status_code == 404
    )  # not theirs
    assert client.post(reverse("token-revoke", args=[token.pk])).status_code == 302
    assert client.post(reverse("token-revoke", args=[token.pk])).status_code == 302
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1
    assert tokens.authenticate(secret) is None
