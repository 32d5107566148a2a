"""A Docker engine with --tlsverify on a loopback port, made for the TLS tests and removed after.

It is a standalone engine (not in the Swarm), with its own data root, exec root and containerd
namespace, in a network namespace of its own (`paneltls`, a veth to the host: 10.233.0.1 here,
10.233.0.2 there). An engine in the host's namespace deletes the host's docker0 when it stops,
whatever its --bridge says, so it must not share that namespace.
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
NETNS, HOST_END, NS_END = "paneltls", "paneltls-h", "paneltls-n"
HOST_ADDR, NS_ADDR, PORT = "10.233.0.1", "10.233.0.2", 2376
DATA = Path("/var/lib/panel-tls-engine")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TlsEngine:
    def __init__(self, ca: CA) -> None:
        self.ca = ca
        self.server: Pair = ca.issue("localhost", server=True, ips=("127.0.0.1", NS_ADDR))
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"tcp://{NS_ADDR}:{PORT}"

    def start(self) -> None:
        self.stop()
        _make_netns()
        ROOT.mkdir(parents=True, exist_ok=True)
        DATA.mkdir(parents=True, exist_ok=True)
        files = {"ca.pem": self.ca.pem, "server.pem": self.server.cert, "server-key.pem": self.server.key}
        for name, text in files.items():
            (ROOT / name).write_text(text)
            (ROOT / name).chmod(0o600)
        log = open(ROOT / "dockerd.log", "w")  # noqa: SIM115 (kept open for the process' life)
        self.proc = subprocess.Popen(
            [
                "nsenter",
                f"--net=/var/run/netns/{NETNS}",
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
                f"tcp://{NS_ADDR}:{PORT}",
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
                with socket.create_connection((NS_ADDR, PORT), timeout=0.5):
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
        subprocess.run(["ip", "link", "delete", HOST_END], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True, check=False)
        shutil.rmtree(ROOT, ignore_errors=True)
        shutil.rmtree(DATA, ignore_errors=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _make_netns() -> None:
    """Made anew at each start, so a half-made namespace from an interrupted run cannot linger."""
    subprocess.run(["ip", "link", "delete", HOST_END], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True, check=False)
    _ip("netns", "add", NETNS)
    _ip("link", "add", HOST_END, "type", "veth", "peer", "name", NS_END)
    _ip("link", "set", NS_END, "netns", NETNS)
    _ip("addr", "add", f"{HOST_ADDR}/30", "dev", HOST_END)
    _ip("link", "set", HOST_END, "up")
    _ip("-n", NETNS, "addr", "add", f"{NS_ADDR}/30", "dev", NS_END)
    _ip("-n", NETNS, "link", "set", NS_END, "up")
    _ip("-n", NETNS, "link", "set", "lo", "up")
