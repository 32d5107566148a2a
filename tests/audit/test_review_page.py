"""The review page: filters, keyset pages that neither skip nor repeat at equal timestamps,
job links, the before/after diff, the htmx fragment."""

import datetime
import re

import pytest
from django.urls import reverse

from panel.audit import query, record, views
from panel.models import AuditEvent
from tests import factories
from tests.audit.helpers import append

pytestmark = pytest.mark.django_db
NOON = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)


def listed(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="event-(\d+)"', html)]


def link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="(\?[^"]*)"[^>]*rel="{rel}"', html)
    return found[1].replace("&amp;", "&") if found else None


@pytest.fixture
def crowd(db):  # type: ignore[no-untyped-def]
    """130 events: 60 at one instant (a bulk change), the rest a second apart, three sites."""
    same = append(
        [{"action": "site.edit", "site_slug": "acme", "target_name": f"t{n}"} for n in range(60)], time=NOON
    )
    spread = [
        append(
            [
                {
                    "action": "site.deploy" if n % 2 else "domain.create",
                    "site_slug": ["acme", "beta", "gamma"][n % 3],
                    "cluster_name": "eu" if n % 3 else "us",
                    "actor_username": "bob" if n % 5 else "carol",
                    "target_name": f"spread{n}",
                    "detail": "rolled out" if n == 7 else "",
                }
            ],
            time=NOON + datetime.timedelta(seconds=n + 1),
        )[0]
        for n in range(70)
    ]
    return same + spread


def newest_first(events):  # type: ignore[no-untyped-def]
    return [e.pk for e in sorted(events, key=lambda e: (e.time, e.pk), reverse=True)]


def test_keyset_pages_cover_every_event_once_across_equal_timestamps(personas, crowd):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    expected = newest_first(crowd)
    first = client.get(reverse("audit-list")).content.decode()
    ids = listed(first)
    # Newest first, page by page: 50 + 50 + 30 (+ whatever logins the personas made, at the top).
    url = link(first, "next")
    while url:
        html = client.get(reverse("audit-list") + url).content.decode()
        page_ids = listed(html)
        assert len(page_ids) <= query.PAGE_SIZE
        ids += page_ids
        url = link(html, "next")
    assert ids[-len(expected) :] == expected
    assert len(ids) == len(set(ids)) == AuditEvent.objects.count()


def test_newer_links_walk_back_the_same_pages(crowd):  # type: ignore[no-untyped-def]
    events = AuditEvent.objects.all()
    pages = [query.page(events)]
    while pages[-1].older:
        pages.append(query.page(events, before=pages[-1].older))
    assert [len(p.events) for p in pages] == [50, 50, 30] and pages[0].newer is None
    for newer_page, older_page in zip(pages, pages[1:], strict=False):
        back = query.page(events, after=older_page.newer)
        assert [e.pk for e in back.events] == [e.pk for e in newer_page.events]
    assert query.page(events, after=pages[1].newer).newer is None  # back at the top


def test_boundary_inside_a_run_of_equal_timestamps(crowd):  # type: ignore[no-untyped-def]
    """Small pages, all cut inside the 60 events that share NOON."""
    events = AuditEvent.objects.filter(time=NOON)
    seen, cursor = [], None
    while True:
        page = query.page(events, before=cursor, size=7)
        seen += [e.pk for e in page.events]
        if not page.older:
            break
        cursor = page.older
    assert seen == sorted(seen, reverse=True) and len(seen) == 60


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"site": "beta"}, lambda e: e.site_slug == "beta"),
        ({"cluster": "us"}, lambda e: e.cluster_name == "us"),
        ({"actor": "carol"}, lambda e: e.actor_username == "carol"),
        ({"action": "site.deploy"}, lambda e: e.action == "site.deploy"),
        ({"action": "site"}, lambda e: e.action.startswith("site.")),
        ({"action": "domain.*"}, lambda e: e.action.startswith("domain.")),
        ({"q": "ROLLED"}, lambda e: "rolled" in e.detail),
        ({"q": "spread1"}, lambda e: e.target_name.startswith("spread1")),
        (
            {"since": "2026-05-01T12:00:30", "until": "2026-05-01 12:00:40"},
            # the date too: the personas' logins happen now, at any second
            lambda e: e.time.strftime("%Y-%m-%d %H:%M") == "2026-05-01 12:00" and 30 <= e.time.second < 40,
        ),
        (
            {"until": "2026-05-01", "site": "acme"},
            lambda e: e.site_slug == "acme",
        ),  # a date alone: the whole of May 1st
        (
            {"since": "2026-05-01", "site": "acme", "action": "site.edit"},
            lambda e: e.site_slug == "acme" and e.action == "site.edit",
        ),
    ],
)
def test_filters(personas, crowd, params, expected):  # type: ignore[no-untyped-def]
    response = personas.client("viewer").get(reverse("audit-list"), {**params})
    assert response.status_code == 200
    everything = AuditEvent.objects.all()  # the personas' logins too
    wanted = [pk for pk in newest_first(everything) if expected(AuditEvent.objects.get(pk=pk))][:50]
    assert listed(response.content.decode()) == wanted


def test_until_a_date_includes_that_day(crowd):  # type: ignore[no-untyped-def]
    filters = query.Filters.parse({"until": "2026-05-01", "site": "gamma"})
    assert filters.apply(AuditEvent.objects.all()).count() == 23


def test_a_bad_date_is_explained(personas, crowd):  # type: ignore[no-untyped-def]
    html = personas.client("viewer").get(reverse("audit-list"), {"since": "yesterday-ish"}).content.decode()
    assert "is not a date" in html and listed(html) == []


def test_a_bad_cursor_shows_the_first_page(personas, crowd):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    first = listed(client.get(reverse("audit-list")).content.decode())
    for junk in ("x", "1.2.3", "99999999999999999999.1", "-5"):
        assert listed(client.get(reverse("audit-list"), {"before": junk}).content.decode()) == first


def test_filters_are_kept_in_the_page_links(personas, crowd):  # type: ignore[no-untyped-def]
    html = personas.client("viewer").get(reverse("audit-list"), {"site": "acme"}).content.decode()
    older = link(html, "next")
    assert older and "site=acme" in older and "before=" in older


def test_the_page_reads_one_page_of_rows(personas, crowd, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    client = personas.client("viewer")
    client.get(reverse("audit-list"))  # warm the session
    cursor = query.encode(NOON, 10**9)
    with django_assert_max_num_queries(6) as queries:  # session, user, role; then one for the events
        client.get(reverse("audit-list"), {"site": "acme", "before": cursor}, HTTP_HX_REQUEST="true")
    events = [q["sql"] for q in queries.captured_queries if "panel_auditevent" in q["sql"]]
    assert len(events) == 1 and "LIMIT 51" in events[0]
    assert "OFFSET" not in events[0] and "COUNT(" not in events[0]


def test_htmx_gets_only_the_table(personas, crowd):  # type: ignore[no-untyped-def]
    html = personas.client("viewer").get(reverse("audit-list"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in html and 'id="event-' in html


def test_diff_shows_before_and_after(personas, world):  # type: ignore[no-untyped-def]
    record("site.edit", actor="system", target=world["site"], before={"replicas": 2}, after={"replicas": 4})
    html = personas.client("viewer").get(reverse("audit-list"), {"action": "site.edit"}).content.decode()
    assert re.search(r'<td class="mono">replicas</td><td class="mono">2</td><td class="mono">4</td>', html)


def test_events_link_to_their_job_page_and_its_log_section(personas):  # type: ignore[no-untyped-def]
    """The log link is the log on the job's page, not the bare fragment htmx polls (job-log)."""
    job = factories.job(state="succeeded")
    record("site.deploy", actor="system", job=job)
    html = personas.client("viewer").get(reverse("audit-list")).content.decode()
    page = job.get_absolute_url()
    assert f'<a href="{page}">job #{job.pk}</a> · <a href="{page}#job-log">log</a>' in html
    assert reverse("job-log", args=[job.pk]) not in html
    assert '<section id="job-log"' in personas.client("viewer").get(page).content.decode()


def test_no_job_page_no_broken_link(monkeypatch, db):  # type: ignore[no-untyped-def]
    from django.urls import NoReverseMatch

    def missing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise NoReverseMatch("job-detail")

    monkeypatch.setattr(views, "reverse", missing)
    assert views.job_links([record("site.deploy", actor="system", job=5)]) == {5: {}}
