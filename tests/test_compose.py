"""docker-compose.dev.yml is accepted by Compose and holds the panel's five processes."""

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by scripts/test.sh; run make test"
    out = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.dev.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 and "no such option: --format" in out.stderr:
        out = subprocess.run(
            [compose, "-f", str(ROOT / "docker-compose.dev.yml"), "config"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert all(f"  {name}:" in out.stdout for name in ("web", "worker", "beat", "redis", "postgres"))
        return
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout)["services"]) == {"web", "worker", "beat", "redis", "postgres"}
