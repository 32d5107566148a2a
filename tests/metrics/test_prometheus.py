"""A real Prometheus (Debian's package) scrapes the panel's live server and reads a job figure back."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from jobs.models import Job
from tests import factories as f
from tests.jobs.services import free_port, wait_for
from tests.metrics.helpers import tool

pytestmark = [pytest.mark.integration]

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: panel
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


@pytest.fixture
def prometheus(live_server, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Prometheus on a free loopback port, scraping the live server every second; its API's URL."""
    panel_port = urlsplit(live_server.url).port
    config = tmp_path / "prometheus.yml"
    config.write_text(CONFIG.format(port=panel_port))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
    assert proc.returncode in (0, -15), (tmp_path / "prometheus.log").read_text()


def query(base: str, expr: str) -> list[dict]:
    try:
        response = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=2)
    except httpx.TransportError:
        return []  # not listening yet
    if response.status_code == 503:
        return []  # listening, its storage not ready yet ("Service Unavailable", plain text)
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_panel_and_reads_jobs_back(prometheus: str) -> None:
    cluster = f.cluster(name="scraped")
    for state in ("succeeded", "succeeded", "succeeded", "failed"):
        f.job(f.site(cluster), kind="deploy", state=state)
    expected = Job.objects.filter(kind="deploy", state="succeeded", cluster=cluster).count()

    def scraped() -> bool:
        return any(r["value"][1] == "1" for r in query(prometheus, 'up{job="panel"}'))

    wait_for(scraped, 30, "a successful scrape of /metrics by Prometheus", every=0.5)
    # The first scrapes may predate the jobs (Prometheus starts before the test adds them).
    series = 'panel_jobs{kind="deploy",state="succeeded",cluster="scraped"}'
    found = wait_for(lambda: query(prometheus, f"{series} > 0"), 10, "the jobs in Prometheus", every=0.5)
    assert len(found) == 1, found
    assert found[0]["metric"]["job"] == "panel"
    assert float(found[0]["value"][1]) == expected == 3
