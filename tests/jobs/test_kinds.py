"""Job kinds and runners are one list: a kind nobody runs, or a runner whose kind the model does not
know, fails here."""

from jobs.models import Kind
from jobs.runner import registered_kinds, runner_for


def test_every_kind_has_a_runner_and_every_runner_has_a_kind() -> None:
    ours = {kind for kind in registered_kinds() if not runner_for(kind).__module__.startswith("tests.")}
    assert ours == set(Kind.values)
