"""Lab tests share one session-wide lab: the `lab` fixture (lab/pytest_fixture.py)."""

import pytest

# Runs after every other test of the session (whatever module it sits in): it takes the lab down and
# brings it back, which changes node ids that other suites may hold in their LabInfo.
LAST = "test_lab_infra.py::test_down_removes_everything_then_up_again"


@pytest.hookimpl(trylast=True)  # after any shuffling (a shuffled run still ends with it)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if item.nodeid.endswith(LAST)]
    items[:] = [item for item in items if item not in last] + last
