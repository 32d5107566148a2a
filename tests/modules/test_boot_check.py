"""Reading a new replica's boot (clusters/sites/boot_check.py) on real Odoo 19.0 logs, read in place
from ../shared/data/odoo-19-logs: a plain boot passes (a4), a skipped module is named with the
dependency it lacks (c4), broken code is named with its error (b2). No lab: the docker side is
replaced by the lines a task's log would hold, as they arrive."""

from __future__ import annotations

from typing import Any

import pytest

from clusters import swarm_ops as ops
from clusters.sites import boot_check
from clusters.sites.boot_check import Boot, boot_verdict, describe_lack, failure_message
from clusters.stack import BindFilestore, SiteSpec
from tests.modules.test_odoo_log_real import LOGS


def real(name: str) -> list[str]:
    path = LOGS / name
    assert path.is_file(), f"real Odoo 19 log missing: {path} (the real logs are the oracle)"
    return path.read_text().splitlines()


def cut_before(lines: list[str], marker: str) -> list[str]:
    return lines[: next(i for i, line in enumerate(lines) if marker in line)]


def test_a4_a_plain_boot_passes():
    lines = real("a4_plain_boot.log")
    verdict = boot_verdict(lines)
    assert verdict is not None and verdict.ok and verdict.loaded, verdict
    assert Boot("acme_odoo.1", lines, verdict).left_out == []
    assert boot_check.modules_loaded(lines) == 16
    # Still loading: nothing is decided yet.
    assert boot_verdict(cut_before(lines, "Registry loaded in")) is None
    assert boot_verdict(cut_before(lines, "Modules loaded.")) is None


def test_c4_a_module_skipped_for_a_missing_dependency_is_named_with_it():
    lines = real("c4_plain_boot_dep_nonexistent.log")
    verdict = boot_verdict(lines)
    assert verdict is not None and not verdict.ok
    assert verdict.vanished == ["dep_mod"] and verdict.failed_modules == []
    # Odoo 19 names no dependency: it comes from dep_mod's manifest against the installed modules.
    lack = describe_lack(["base", "nonexistent_dep"], verdict.vanished, {"base", "web", "dep_mod"})
    assert lack == "depends on nonexistent_dep, not installed"
    message = failure_message([Boot("acme_odoo.1", lines, verdict)], {"dep_mod": lack})
    assert message.startswith(
        "the new image leaves modules out of Odoo's registry: "
        "dep_mod was skipped (depends on nonexistent_dep, not installed) (seen on acme_odoo.1)."
    ), message
    # Decided as soon as the log names it, before the registry load ends.
    early = boot_verdict(cut_before(lines, "Modules loaded."))
    assert early is not None and early.vanished == ["dep_mod"]


def test_b2_broken_code_is_named_with_its_error():
    lines = real("b2_plain_boot_broken.log")
    verdict = boot_verdict(lines)
    assert verdict is not None and not verdict.ok and not verdict.loaded
    assert verdict.failed_modules == ["broken_mod"]
    message = failure_message([Boot("acme_odoo.2", lines, verdict)], {})
    assert "broken_mod failed to load; the error: RuntimeError: broken_mod: deliberate import failure" in (
        message
    )
    assert "(seen on acme_odoo.2)" in message


def test_a_load_of_a_database_not_initialized_yet_decides_nothing():
    # The first request may open the database before the cron has initialized it: Odoo loads an
    # empty registry, then loads it again once the database is there. The full load decides.
    waiting = [
        "2026-12-06 01:11:30,100 7 ERROR db_a odoo.modules.loading: Database db_a not initialized, "
        "you can force it with `-i base` ",
        "2026-12-06 01:11:30,101 7 INFO db_a odoo.registry: Registry loaded in 0.010s ",
    ]
    assert boot_verdict(waiting) is None
    verdict = boot_verdict(waiting + real("a4_plain_boot.log"))
    assert verdict is not None and verdict.loaded and not verdict.vanished


def test_odoo_16_to_18_name_the_unmet_dependencies_themselves():
    lines = [
        "2024-05-01 10:00:00,000 7 INFO db odoo.modules.graph: module shop_stock: Unmet dependencies: "
        "nonexistent_dep",
        *real("a4_plain_boot.log")[4:],
    ]
    verdict = boot_verdict(lines)
    assert verdict is not None and verdict.vanished == ["shop_stock"]
    bad = [Boot("acme_odoo.1", lines, verdict)]
    lacking = boot_check.lacks(None, None, bad, "j1", print)  # type: ignore[arg-type]  # nothing to read
    assert lacking == {"shop_stock": "unmet dependencies: nonexistent_dep"}


def test_what_a_skipped_module_lacks_in_words():
    assert describe_lack(["base", "x"], ["m"], None) == (
        "depends on base, x; the site's installed modules were never read"
    )
    assert describe_lack(["shop_base"], ["shop_base", "shop_sale"], {"shop_base"}) == (
        "depends on shop_base, skipped too"
    )
    assert describe_lack("the new image has no m manifest", ["m"], set()) == "the new image has no m manifest"


# -- the polling, with the docker side replaced ----------------------------------------------------------


class FakeSwarm:
    """Tasks of one service whose logs grow by `step` lines at each read."""

    def __init__(self, logs: dict[str, list[str]], step: int = 1000):
        self.logs, self.step, self.reads = logs, step, dict.fromkeys(logs, 0)

    def new_tasks(self, _client: Any, _service: str, before: set[str]) -> list[dict]:
        return [{"ID": tid, "Slot": n} for n, tid in enumerate(self.logs, 1) if tid not in before]

    def task_lines(self, _client: Any, task_id: str) -> list[str]:
        self.reads[task_id] += 1
        return self.logs[task_id][: self.reads[task_id] * self.step]


SPEC = SiteSpec(
    slug="acme",
    image="registry.example/acme:19",
    image_digest="sha256:" + "1" * 64,
    db_name="acme",
    db_node="n1",
    db_password="x",
    redis_password="r3dis-pass-0123456789",
    filestore=BindFilestore(path="/srv/acme"),
    domains=("acme.example",),
)


@pytest.fixture
def swarm(monkeypatch):  # type: ignore[no-untyped-def]
    def make(logs: dict[str, list[str]], step: int = 1000) -> FakeSwarm:
        fake = FakeSwarm(logs, step)
        monkeypatch.setattr(boot_check, "new_tasks", fake.new_tasks)
        monkeypatch.setattr(boot_check, "task_lines", fake.task_lines)
        monkeypatch.setattr(boot_check, "POLL_S", 0.0)
        monkeypatch.setattr(boot_check, "read_depends", lambda *_a: {"dep_mod": ["base", "nonexistent_dep"]})
        monkeypatch.setattr(boot_check, "installed_modules", lambda _slug: {"base", "web", "dep_mod"})
        return fake

    return make


def test_check_passes_a_healthy_rollout_and_says_what_each_replica_loaded(swarm):
    fake = swarm({"t1": real("a4_plain_boot.log"), "t2": real("a4_plain_boot.log")}, step=3)
    said: list[str] = []
    boot_check.check(None, SPEC, {"old"}, run_id="j1", log=said.append)  # type: ignore[arg-type]
    assert said == ["acme_odoo.1: registry loaded, 16 modules", "acme_odoo.2: registry loaded, 16 modules"]
    assert fake.reads["t1"] > 1  # read again until the registry load showed


def test_check_fails_naming_the_skipped_module_and_its_missing_dependency(swarm):
    swarm({"t1": real("a4_plain_boot.log"), "t2": real("c4_plain_boot_dep_nonexistent.log")})
    said: list[str] = []
    with pytest.raises(ops.SwarmError) as failed:
        boot_check.check(None, SPEC, set(), run_id="j1", log=said.append)  # type: ignore[arg-type]
    assert "dep_mod was skipped (depends on nonexistent_dep, not installed) (seen on acme_odoo.2)" in str(
        failed.value
    )
    assert "acme_odoo.2: registry loaded, 15 modules" in said
    assert "acme_odoo.2: dep_mod was skipped: some depends are not loaded, skipped" in said


def test_check_reads_nothing_on_a_first_rollout_and_fails_a_boot_it_never_saw(swarm):
    swarm({"t1": cut_before(real("a4_plain_boot.log"), "Modules loaded.")})
    said: list[str] = []
    boot_check.check(None, SPEC, None, run_id="j1", log=said.append)  # type: ignore[arg-type]
    assert said == ["acme_odoo was created by this deploy: no boot is read on a first rollout"]
    with pytest.raises(ops.SwarmError, match="acme_odoo.1 logged no registry load within 0 s"):
        boot_check.check(None, SPEC, set(), run_id="j1", deadline_s=0)  # type: ignore[arg-type]
    boot_check.check(None, SPEC, {"t1"}, run_id="j1", log=said.append)  # type: ignore[arg-type]
    assert said[-1] == "no new acme_odoo replica: nothing to read"


def test_a_rollout_swarm_rolled_back_itself_is_explained_by_its_ended_tasks_logs(swarm, monkeypatch):
    # Swarm's failure action (a new task unhealthy under load) may end the rollout before the panel
    # reads a boot: the ended tasks' logs still name the skipped module and what it lacks.
    fake = swarm({"old": real("a4_plain_boot.log"), "t2": real("c4_plain_boot_dep_nonexistent.log")})
    ended = [{"ID": tid, "Slot": n, "Status": {"State": "shutdown"}} for n, tid in enumerate(fake.logs, 1)]
    monkeypatch.setattr(boot_check.ops, "tasks", lambda *_a, **_k: ended)
    said: list[str] = []
    why = boot_check.explain_ended_rollout(None, SPEC, {"old"}, run_id="j1", log=said.append)  # type: ignore[arg-type]
    assert why is not None and "dep_mod was skipped (depends on nonexistent_dep, not installed)" in why
    assert fake.reads == {"old": 0, "t2": 1}  # the tasks from before the rollout are not read
    assert boot_check.explain_ended_rollout(None, SPEC, None, run_id="j1") is None  # a first rollout
    fake.logs["t2"] = real("a4_plain_boot.log")
    assert boot_check.explain_ended_rollout(None, SPEC, {"old"}, run_id="j1") is None  # nothing to tell
