"""What an image must carry for the site's `--load`, judged from the manifests the image holds."""

from clusters.sites.image_check import (
    ImageIdentity,
    looked_for,
    parse_output,
    problems,
    render_manifest_task,
    series_problem,
    version_series,
)
from clusters.stack.spec import BindFilestore, SiteSpec
from tests import factories


def spec(**kw) -> SiteSpec:  # type: ignore[no-untyped-def]
    return factories.site_spec(**{"filestore": BindFilestore("/srv/acme"), "cluster_mode": "lab", **kw})


def manifest(version: str, **extra) -> str:  # type: ignore[no-untyped-def]
    return repr({"name": "Sessions", "version": version, "depends": ["base"], **extra})


def test_only_modules_outside_odoo_core_are_looked_for():  # type: ignore[no-untyped-def]
    assert looked_for(spec()) == ["session_db"]
    assert looked_for(spec(series="17.0", server_wide_modules=["queue_job"])) == [
        "queue_job",
        "session_redis",
    ]
    task = render_manifest_task(spec(addons_path=["/mnt/extra-addons", "/opt/more"]), "j1")
    assert task.name == "acme_manifests_j1" and task.image.endswith("@sha256:" + "a" * 64)
    assert task.args[1:] == ["/mnt/extra-addons", "/opt/more"] and task.env == {} and task.mounts == []
    assert task.networks == []  # a first deploy checks the image before the site's network exists


def test_an_image_with_the_store_for_its_series_passes():  # type: ignore[no-untyped-def]
    assert problems(spec(), {"session_db": manifest("19.0.1.0.0")}) == []
    assert problems(spec(), {"session_db": manifest("1.0.0")}) == []  # no series prefix: any series


def test_a_missing_addon_is_refused_with_the_fix():  # type: ignore[no-untyped-def]
    [why] = problems(spec(), {"session_db": None})
    assert "no session_db addon on its addons path (/mnt/extra-addons)" in why
    assert "500 to every page" in why and "Add the session_db addon folder for 19.0" in why


def test_a_module_for_another_series_is_refused():  # type: ignore[no-untyped-def]
    """camptocamp's 18.0 session_redis on 19: every request answered 500 on a real Odoo 19."""
    site = spec(session_store="session_redis")
    [why] = problems(site, {"session_redis": manifest("18.0.1.0.0")})
    assert "version 18.0.1.0.0, written for Odoo 18.0, not the site's 19.0" in why


def test_unreadable_or_uninstallable_manifests_are_refused():  # type: ignore[no-untyped-def]
    assert "cannot be read" in problems(spec(), {"session_db": "__import__('os').system('x')"})[0]
    assert "not installable" in problems(spec(), {"session_db": manifest("19.0.1.0.0", installable=False)})[0]


def test_versions_and_the_task_output():  # type: ignore[no-untyped-def]
    assert version_series("18.0.1.2.0") == "18.0" and version_series("1.2.0") is None
    assert parse_output(["noise", 'MANIFESTS {"session_db": null}']).manifests == {"session_db": None}
    read = parse_output(
        ["MANIFESTS {}", 'IDENTITY {"uid": 101, "gid": 101, "version": "Odoo Server 19.0+e-20251227"}']
    )
    assert read.identity == ImageIdentity(101, 101, "Odoo Server 19.0+e-20251227")
    assert read.identity.series == "19.0"
    assert ImageIdentity(0, 0, "Odoo Server saas~18.3").series == "18.3"
    assert ImageIdentity(0, 0, None).series is None


def test_the_series_is_read_from_the_image_never_assumed():  # type: ignore[no-untyped-def]
    assert series_problem(spec(), ImageIdentity(101, 101, "Odoo Server 19.0+e-20251227")) is None
    why = series_problem(spec(series="17.0"), ImageIdentity(101, 101, "Odoo Server 19.0+e-20251227"))
    assert why and "runs Odoo 19.0" in why and "set to 17.0" in why and "site edit --series" in why
    for answer in (None, ImageIdentity(0, 0, None), ImageIdentity(0, 0, "bash: odoo: not found")):
        why = series_problem(spec(), answer)
        assert why and "names no Odoo series" in why
