"""A one-off task that only reads the site's database (reading its modules, the backup) is repeated
while the overlay network is settling, within a time budget, and never for an error that repeating
cannot fix. The one-off task is faked here (its real runs are in tests/modules/*_lab.py); what is
tested is the decision to try again."""

import pytest

from clusters.sites import modules as runners
from jobs.runner import JobFailed
from tests import factories

pytestmark = pytest.mark.django_db

ROW = "base|installed|17.0.1.0|"
NO_NAME = 'psql: error: could not translate host name "acme_db" to address: Name or service not known'


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(runners.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(runners.time, "sleep", fake.sleep)
    return fake


def answers(monkeypatch: pytest.MonkeyPatch, clock: Clock, replies: list[tuple[int, list[str]]]) -> list[int]:
    calls: list[int] = []

    def one_off(client, task, deadline_s, log):  # type: ignore[no-untyped-def]
        calls.append(1)
        clock.now += 5  # a one-off task takes a few seconds to start and end
        return replies[min(len(calls), len(replies)) - 1]

    monkeypatch.setattr(runners.ops, "run_one_off", one_off)
    return calls


def read(lines: list[str]):  # type: ignore[no-untyped-def]
    site = factories.site(factories.cluster(), slug="acme", db_name="acme")
    return runners.read_modules_and_depends(None, site, "r1", lines.append)  # type: ignore[arg-type]


def test_a_name_not_yet_known_is_tried_again_until_it_resolves(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    calls = answers(monkeypatch, clock, [(2, [NO_NAME])] * 4 + [(0, [ROW])])
    log: list[str] = []
    modules, depends = read(log)
    assert modules == {"base": ["installed", "17.0.1.0"]} and depends == {"base": []}
    assert len(calls) == 5
    assert "trying again in 2 s (attempt 2" in log[0]


def test_it_gives_up_after_the_budget_with_the_error(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    calls = answers(monkeypatch, clock, [(2, [NO_NAME])])
    start = clock.now
    with pytest.raises(JobFailed, match="could not translate host name"):
        read([])
    assert clock.now - start <= runners.QUERY_RETRY_S + 5 * len(calls)
    assert 3 <= len(calls) <= 10


def test_an_error_that_repeating_cannot_fix_fails_at_once(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    calls = answers(monkeypatch, clock, [(2, ['psql: error: FATAL:  database "acme" does not exist'])])
    with pytest.raises(JobFailed, match="does not exist"):
        read([])
    assert len(calls) == 1


class Runner:
    """What take_backup asks of its job runner."""

    def __init__(self, job) -> None:  # type: ignore[no-untyped-def]
        self.job, self.lines = job, []

    def log(self, line: str) -> None:
        self.lines.append(line)

    def set_compensation(self, action: str, **args: str) -> None:
        pass

    def clear_compensation(self, action: str | None = None) -> None:
        pass


def test_the_backup_is_tried_again_the_same_way(monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    from clusters.models import Backup
    from clusters.sites.backups.backup import take_backup

    calls = answers(monkeypatch, clock, [(2, [NO_NAME]), (0, ["size=42"])])
    site = factories.site(factories.cluster(), slug="acme", db_name="acme")
    runner = Runner(factories.job(site))
    assert take_backup(runner, None, site, "r1")["size_bytes"] == 42  # type: ignore[arg-type]
    assert len(calls) == 2
    assert any(line.startswith("the backup: ") and "trying again" in line for line in runner.lines)
    assert Backup.objects.get(site=site).size_bytes == 42
