"""Changed modules on the lab (issue 6): the checksums are read in the site's own image, recorded for
what an update updated, and a new image that changes one addon's code offers exactly that addon."""

import pytest

from clusters import engine
from clusters.models import Site
from clusters.sites.checksums import Changed, changed_modules, read_checksums
from tests.modules.helpers import deploy_and_install, push_variant, redeploy, result_of
from tests.sites.jobrun import run_inline

pytestmark = [pytest.mark.integration, pytest.mark.lab]


def current(site: Site) -> dict[str, str]:
    with engine.client_for(site.cluster) as client:
        return read_checksums(client, site, "sums", lambda _line: None)


def test_changed_modules_offer_what_a_new_image_changed(make_site, monkeypatch, docker_client, lab):  # type: ignore[no-untyped-def]
    site = deploy_and_install(monkeypatch, make_site())
    # The install recorded what it installed from the site's addons path (core addons live elsewhere).
    assert set(site.module_checksums) == {"shop_base", "shop_sale", "shop_stock"}
    assert changed_modules(site, current(site)) == Changed(changed=[], unknown=[])

    push_variant(
        lab,
        docker_client,
        site,
        [
            "RUN printf 'from . import models\\n' >> /mnt/extra-addons/shop_stock/__init__.py",
            "RUN printf 'X = 1\\n' > /mnt/extra-addons/shop_stock/models.py",
            # a web asset only: served without an update, so not a change (click-odoo-update's rule)
            "RUN mkdir -p /mnt/extra-addons/shop_sale/static"
            " && printf 1 > /mnt/extra-addons/shop_sale/static/a.js",
        ],
    )
    site = redeploy(monkeypatch, site)
    assert changed_modules(site, current(site)) == Changed(changed=["shop_stock"], unknown=[])

    job = run_inline(monkeypatch, "module_update", site, modules=["shop_stock"], backup=False)
    assert job.state == "succeeded", job.error
    assert result_of(job)["checksums_recorded"] == ["shop_stock"]
    site.refresh_from_db()
    assert changed_modules(site, current(site)) == Changed(changed=[], unknown=[])

    job = run_inline(monkeypatch, "read_modules", site)  # what the update form reads
    assert job.state == "succeeded", job.error
    assert result_of(job)["changed"] == [] and result_of(job)["unknown"] == []
