"""Fixtures for manifest changes: the site "acme" with its installed modules read, and archives of addons.

The site has installed exactly what the gate's own verdict test installs (tests/gate/test_gate_verdict.py):
three OCA tops and their closures, read at a fixed time. The trap archive is the whole oca-17.0 tree
with `sale_subscription` added to report_xlsx's depends: report_xlsx is installed, sale_subscription
is not, and report_xlsx_helper, account_asset_management, mis_builder and mis_builder_analytic sit
above it.
"""

from __future__ import annotations

import io
import json
import stat
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clusters.models import Site
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
OCA = ROOT.parent / "shared" / "data" / "oca-17.0"
SITE_TOPS = ["account_asset_management", "mis_builder", "mis_builder_analytic"]
READ_AT = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
TRAP_ADDON = "report_xlsx"
ABOVE_TRAP = ["account_asset_management", "mis_builder", "mis_builder_analytic", "report_xlsx_helper"]
MANIFEST = b"{'name': 'A', 'version': '17.0.1.0.0', 'depends': ['base']}\n"


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def tgz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def oca_members(edit: dict[str, list[str]] | None = None) -> dict[str, bytes]:
    """The oca-17.0 tree as archive members under addons/, with extra depends added per addon."""
    members = {}
    for path in sorted((OCA / "addons").rglob("*")):
        if path.is_file():
            rel = path.relative_to(OCA)
            data = path.read_bytes()
            extra = (edit or {}).get(path.parent.name)
            if extra and path.name == "__manifest__.py":
                deps = "".join(f'"{d}", ' for d in extra)
                data = data.decode().replace('"depends": [', '"depends": [' + deps, 1).encode()
                assert any(d.encode() in data for d in extra), f"could not edit {rel}"
            members[str(rel)] = data
    return members


@pytest.fixture(scope="session")
def ground_truth() -> dict[str, dict[str, list[str]]]:
    return json.loads((OCA / "ground_truth.json").read_text())["addons"]


@pytest.fixture(scope="session")
def installed_rows(ground_truth: dict[str, dict[str, list[str]]]) -> dict[str, list[str | None]]:
    """Site.installed_modules: every ir_module_module row as name -> [state, latest_version]."""
    names = set(SITE_TOPS)
    for top in SITE_TOPS:
        names.update(ground_truth[top]["closure"])
    rows: dict[str, list[str | None]] = {n: ["installed", "17.0.1.0.0"] for n in sorted(names)}
    rows["sale_subscription"] = ["uninstalled", None]
    return rows


@pytest.fixture(scope="session")
def trap_zip() -> bytes:
    return zip_bytes(oca_members({TRAP_ADDON: ["sale_subscription"]}))


@pytest.fixture(scope="session")
def clean_zip() -> bytes:
    return zip_bytes(oca_members())


@pytest.fixture(scope="session")
def module_depends(
    installed_rows: dict[str, list[str | None]], ground_truth: dict[str, dict[str, list[str]]]
) -> dict[str, list[str]]:
    """Site.module_depends of the same read: the OCA addons' direct depends as their manifests say
    (Odoo core modules are left out; nothing here compares against their depends)."""
    return {n: ground_truth[n]["depends_direct"] for n in installed_rows if n in ground_truth}


@pytest.fixture
def site(db: None, installed_rows: dict[str, list[str | None]], module_depends: dict[str, list[str]]) -> Site:
    return factories.site(
        factories.cluster(name="prod"),
        slug="acme",
        series="17.0",
        installed_modules=installed_rows,
        module_depends=module_depends,
        modules_read_at=READ_AT,
    )


@pytest.fixture
def unread_site(db: None) -> Site:
    return factories.site(factories.cluster(name="stage"), slug="fresh")


def upload(data: bytes, name: str = "addons.zip") -> io.BytesIO:
    """A file object Django's test client sends as a multipart file field."""
    buf = io.BytesIO(data)
    buf.name = name
    return buf


def small_zip(depends: list[str], name: str = TRAP_ADDON) -> bytes:
    """One addon under addons/: report_xlsx with these depends (base and web are installed on acme)."""
    manifest = repr({"name": name, "version": "17.0.1.0.1", "depends": depends}).encode()
    return zip_bytes({f"addons/{name}/__manifest__.py": manifest, f"addons/{name}/__init__.py": b""})


@pytest.fixture
def make_change(site: Site):  # type: ignore[no-untyped-def]
    """make_change(user, depends=["base", "web"]) -> a stored change of report_xlsx through the services."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from clusters.approvals import services
    from clusters.approvals.intake import evaluate_archive
    from clusters.approvals.models import ChangeSource

    def make(user, depends=("base", "web"), target: Site | None = None, name: str = TRAP_ADDON):  # type: ignore[no-untyped-def]
        where = target or site
        archive = SimpleUploadedFile("change.zip", small_zip(list(depends), name))
        evaluation = evaluate_archive(where, archive)
        return services.submit(where, evaluation, user=user, source=ChangeSource.UPLOAD, title="test")

    return make


@pytest.fixture
def operator_token(personas) -> str:  # type: ignore[no-untyped-def]
    from clusters.approvals import tokens

    return tokens.create(personas.users["operator"], "ci", scope="submit")[1]
