"""The update form ticks the installed modules whose code changed since their last update (from the
last read of the site's modules, less what was updated since), so nobody reaches for `all`."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clusters.sites.actions import changed_offer
from tests import factories

pytestmark = pytest.mark.django_db

INSTALLED = {m: ["installed", "17.0.1.0.0"] for m in ("base", "shop_base", "shop_sale", "shop_stock")}


def ended(site, kind: str, minutes_ago: int, result: dict):  # type: ignore[no-untyped-def]
    return factories.job(
        site,
        kind=kind,
        state="succeeded",
        mutating=kind != "read_modules",
        finished_at=timezone.now() - timedelta(minutes=minutes_ago),
        result=result,
    )


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    return factories.site(factories.cluster(), installed_modules=INSTALLED, modules_read_at=timezone.now())


def test_nothing_offered_before_a_read(site):  # type: ignore[no-untyped-def]
    assert changed_offer(site).changed == [] and changed_offer(site).read_at is None


def test_modules_updated_since_the_read_are_no_longer_offered(site):  # type: ignore[no-untyped-def]
    ended(site, "read_modules", 30, {"changed": ["shop_base", "shop_sale"], "unknown": ["base"]})
    ended(site, "module_update", 10, {"modules": ["shop_sale"]})
    offer = changed_offer(site)
    assert (offer.changed, offer.unknown) == (["shop_base"], ["base"])


def test_the_form_ticks_the_changed_modules(site, personas):  # type: ignore[no-untyped-def]
    ended(site, "read_modules", 5, {"changed": ["shop_stock"], "unknown": []})
    html = personas.client("operator").get(reverse("site-update-modules", args=[site.slug])).content.decode()
    assert 'value="shop_stock" checked' in html and 'value="shop_sale" checked' not in html
    assert "1 module changed" in html and 'value="base" checked' not in html
