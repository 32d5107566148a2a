from clusters.lab.pytest_fixture import lab  # noqa: F401
