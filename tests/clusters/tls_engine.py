"""A Docker engine with --tlsverify on a loopback port, made for the TLS tests and removed after.

It is a standalone engine (not in the Swarm), with its own data root, exec root and containerd
namespace, no bridge and no iptables rules, so it touches nothing of the host engine or the lab.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.clusters.pki import CA, Pair

ROOT = Path("/run/panel-tls-engine")
DATA = Path("/var/lib/panel-tls-engine")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TlsEngine:
    def __init__(self, ca: CA) -> None:
        self.ca = ca
        self.port = free_port()
        self.server: Pair = ca.issue("localhost", server=True)
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.stop()
        ROOT.mkdir(parents=True, exist_ok=True)
        DATA.mkdir(parents=True, exist_ok=True)
        files = {"ca.pem": self.ca.pem, "server.pem": self.server.cert, "server-key.pem": self.server.key}
        for name, text in files.items():
            (ROOT / name).write_text(text)
            (ROOT / name).chmod(0o600)
        log = open(ROOT / "dockerd.log", "w")  # noqa: SIM115 (kept open for the process' life)
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--data-root",
                str(DATA),
                "--exec-root",
                str(ROOT / "exec"),
                "--pidfile",
                str(ROOT / "docker.pid"),
                "-H",
                f"unix://{ROOT}/docker.sock",
                "-H",
                f"tcp://127.0.0.1:{self.port}",
                "--tlsverify",
                "--tlscacert",
                str(ROOT / "ca.pem"),
                "--tlscert",
                str(ROOT / "server.pem"),
                "--tlskey",
                str(ROOT / "server-key.pem"),
                "--bridge",
                "none",
                "--iptables=false",
                "--ip-masq=false",
                "--containerd-namespace",
                "paneltls",
                "--containerd-plugins-namespace",
                "paneltlsp",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the TLS engine exited: {(ROOT / 'dockerd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the TLS engine did not listen within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(ROOT, ignore_errors=True)
        shutil.rmtree(DATA, ignore_errors=True)
