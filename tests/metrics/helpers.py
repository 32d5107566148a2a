"""Reading /metrics as Prometheus would, and checking it with Prometheus's own tools."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def tool(name: str) -> str:
    """A binary of Debian's `prometheus` package; its absence fails the test (nothing skips)."""
    path = shutil.which(name)
    if not path:
        pytest.fail(
            f"{name} is not installed: apt-get install prometheus (make test installs it)", pytrace=False
        )
    return path


def scrape(client: Client | None = None, **extra: str) -> str:
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def samples(text: str) -> Samples:
    """Every sample as {(name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def promtool_check(text: str) -> None:
    done = subprocess.run(
        [tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, f"promtool check metrics:\n{done.stdout}{done.stderr}"
