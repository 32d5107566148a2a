"""The approval gate's models moved from the jobs app to the approvals app by state-only
migrations: a database made by the migrations of before the move keeps its rows, on PostgreSQL."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

# The newest migrations before the move; approvals did not exist.
BEFORE = [("jobs", "0003_compensation_claim"), ("clusters", "0006_site_session_store_series_19")]


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)  # a fresh loader sees what is applied now


def test_a_database_from_before_the_move_keeps_its_changes_tokens_and_content_types() -> None:
    assert connection.vendor == "postgresql"
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    site = factories.site(factories.cluster())
    user = factories.user("dana", role="operator")
    executor = migrate([*BEFORE, ("approvals", None)])
    old = executor.loader.project_state(BEFORE).apps
    ContentType.objects.get_or_create(app_label="jobs", model="manifestchange")
    change = old.get_model("jobs", "ManifestChange").objects.create(
        site_id=site.pk, state="pending", source="upload", source_name="a.zip", series="19.0", passes=True,
        verdict={"ok": True}, submitted_by_name="dana",
    )  # fmt: skip
    old.get_model("jobs", "ChangeAddon").objects.create(change_id=change.pk, site_id=site.pk, name="shop")
    old.get_model("jobs", "ApiToken").objects.create(
        user_id=user.pk, name="ci", prefix="abc", digest="d" * 64
    )

    migrate(leaves)

    from clusters.approvals.models import ApiToken, ChangeAddon, ManifestChange

    moved = ManifestChange.objects.get(pk=change.pk)
    assert (moved.site_id, moved.state, moved.source_name) == (site.pk, "pending", "a.zip")
    assert list(ChangeAddon.objects.filter(change=moved).values_list("name", flat=True)) == ["shop"]
    assert ApiToken.objects.get(name="ci").user_id == user.pk
    assert ContentType.objects.get_for_model(ManifestChange).app_label == "approvals"
    assert not ContentType.objects.filter(app_label="jobs", model="manifestchange").exists()
