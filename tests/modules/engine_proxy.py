"""A unix-socket forwarder to the Docker engine that a test controls: the engine's reachability, on
demand, without touching the engine (other suites and sessions share it).

    proxy = EngineProxy("/var/run/docker.sock").start()
    cluster.endpoint = proxy.endpoint       # the panel reaches the engine through it
    proxy.stop()                            # unreachable: the socket is gone, open connections cut
    proxy.start()                           # back, at the same path
    proxy.hold(r"GET /v[\\d.]+/services/x_cron ")  # park matching requests until release()

`hold` exists for the crash tests: it keeps a job inside an instant step (e.g. "Record replicas",
two inspect calls) long enough to kill its worker there, deterministically.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import threading
from pathlib import Path


class EngineProxy:
    def __init__(self, target: str) -> None:
        self.target = target.removeprefix("unix://")
        folder = Path(tempfile.mkdtemp(prefix="panel-engine-proxy-"))
        self.path = str(folder / "docker.sock")
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._hold: re.Pattern[bytes] | None = None
        self._released = threading.Event()
        self.held = threading.Event()  # set once a request was parked by hold()

    @property
    def endpoint(self) -> str:
        return f"unix://{self.path}"

    @property
    def is_running(self) -> bool:
        return self._listener is not None

    def start(self) -> EngineProxy:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(64)
        listener.settimeout(0.1)  # the accept loop checks whether it was stopped
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """The engine becomes unreachable: new connections fail (no socket), open ones are cut."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        with self._lock:
            conns, self._conns = set(self._conns), set()
        for conn in conns:
            _shut(conn)
        self.release()

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.path))

    def hold(self, pattern: str) -> None:
        """Park every request whose bytes match `pattern` until release() (or stop())."""
        self._released.clear()
        self.held.clear()
        self._hold = re.compile(pattern.encode())

    def release(self) -> None:
        self._hold = None
        self._released.set()

    # --- the forwarding -----------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                conn.close()
                continue
            with self._lock:
                self._conns.update((conn, upstream))
            threading.Thread(target=self._pump, args=(conn, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                pattern = self._hold
                if from_client and pattern is not None and pattern.search(data):
                    self.held.set()
                    self._released.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                _shut(sock)
            with self._lock:
                self._conns.difference_update((src, dst))


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
