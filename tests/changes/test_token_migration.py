"""The migration that gave tokens an expiry, a scope and a site keeps every existing token working as
before for 90 days: scope "submit" (what a token could do until then), any site."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

BEFORE = [("approvals", "0002_image_source")]


def test_existing_tokens_get_scope_submit_any_site_and_90_days() -> None:
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    user = factories.user("dana", role="operator")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    old.get_model("approvals", "ApiToken").objects.create(
        user_id=user.pk, name="ci", prefix="p", digest="d" * 64
    )

    MigrationExecutor(connection).migrate(leaves)

    from clusters.approvals.models import ApiToken

    token = ApiToken.objects.get(name="ci")
    assert (token.scope, token.site_id, token.revoked_at) == ("submit", None, None)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=5)
