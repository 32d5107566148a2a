"""docker-compose.dev.yml is accepted by Compose and holds the panel's processes and services."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid():
    # Debian 12 ships Compose 1.29 (`docker-compose`); `docker compose` v2 takes the same arguments.
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by scripts/test.sh; run make test"
    out = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.dev.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"web", "worker", "notify", "beat", "redis", "postgres"}
