"""The one-offs that reach the database while the site is at 0 replicas run on the database's node: the
only node still on the site's overlay then (a node that re-joins may not resolve `<slug>_db` for 30 s)."""

from clusters.sites.checksums import render_checksum_task
from clusters.stack.one_off import render_image_task, render_query_task, render_update_task
from tests.stack.conftest import acme


def test_the_update_its_checksum_read_and_queries_are_pinned_to_the_database_node() -> None:
    spec = acme()
    pinned = [f"node.hostname=={spec.db_node}"]
    assert render_update_task(spec, ["shop_base"], "j1").constraints == pinned
    assert render_update_task(spec, ["shop_base"], "j1", install=True).constraints == pinned
    assert render_query_task(spec, "SELECT 1", "j1").constraints == pinned
    assert render_checksum_task(spec, "j1").constraints == pinned  # pulls the image there before the stop
    assert not render_image_task(spec, "probe", ["true"], run_id="j1").constraints  # others go anywhere
