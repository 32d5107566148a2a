"""Cluster connections against real engines: the host engine's socket, a --tlsverify engine on a
loopback port, a lab worker (not a manager); each failure with its own clear error."""

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from clusters import engine
from clusters.engine import EngineError, check_connection
from tests.clusters.pki import CA
from tests.clusters.tls_engine import TlsEngine, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA()


@pytest.fixture(scope="module")
def tls_engine(ca: CA, docker_engine: None) -> Iterator[TlsEngine]:
    eng = TlsEngine(ca)
    eng.start()
    yield eng
    eng.remove()


def tls_cluster(endpoint: str, ca_pem: str, client) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    return SimpleNamespace(endpoint=endpoint, tls_ca=ca_pem, tls_cert=client.cert, tls_key=client.key)


def kind_of(cluster) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError) as info:
        check_connection(cluster)
    return info.value.kind, info.value.message


@pytest.mark.lab
def test_unix_socket_to_the_swarm_manager(lab):  # type: ignore[no-untyped-def]
    """The host engine is the lab's manager: the `lab` fixture makes it one on a fresh machine."""
    info = check_connection(SimpleNamespace(endpoint="unix:///var/run/docker.sock"))
    assert info.is_manager and info.api_version >= "1.41"


def test_tls_connects_and_reports_not_swarm(tls_engine, ca):  # type: ignore[no-untyped-def]
    cluster = tls_cluster(tls_engine.endpoint, ca.pem, ca.issue("panel", server=False))
    with engine.client_for(cluster) as client:
        assert client.ping()
    kind, message = kind_of(cluster)
    assert kind == "not_swarm" and "not in Swarm mode" in message and "docker swarm init" in message


def test_wrong_ca(tls_engine):  # type: ignore[no-untyped-def]
    other = CA("another CA")
    kind, message = kind_of(tls_cluster(tls_engine.endpoint, other.pem, other.issue("panel", server=False)))
    assert kind == "tls" and "not signed by the stored CA" in message


def test_expired_client_certificate(tls_engine, ca):  # type: ignore[no-untyped-def]
    kind, message = kind_of(
        tls_cluster(tls_engine.endpoint, ca.pem, ca.issue("panel", server=False, expired=True))
    )
    assert kind == "cert_expired" and "client certificate expired on" in message


def test_engine_with_an_expired_certificate(ca):  # type: ignore[no-untyped-def]
    """A TLS listener on loopback presenting an expired certificate: the client refuses it."""
    import tempfile

    server = ca.issue("localhost", server=True, expired=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        cert, key = f"{folder}/c.pem", f"{folder}/k.pem"
        Path(cert).write_text(server.cert)
        Path(key).write_text(server.key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        listener = socket.create_server(("127.0.0.1", port))

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            kind, message = kind_of(
                tls_cluster(f"tcp://127.0.0.1:{port}", ca.pem, ca.issue("panel", server=False))
            )
        finally:
            listener.close()
    assert kind == "cert_expired" and "expired" in message


def test_unreachable():
    kind, message = kind_of(SimpleNamespace(endpoint="unix:///run/nothing-here.sock"))
    assert kind == "unreachable" and "cannot reach the engine" in message


@pytest.mark.lab
def test_worker_is_not_a_manager(lab):  # type: ignore[no-untyped-def]
    worker = next(n for n in lab.nodes if n.role == "worker")
    kind, message = kind_of(SimpleNamespace(endpoint=worker.socket))
    assert kind == "not_manager" and "needs a manager node" in message


def test_api_too_old():
    fake = SimpleNamespace(version=lambda: {"ApiVersion": "1.40", "Version": "19.03"}, info=lambda: {})
    with pytest.raises(EngineError) as info:
        engine.inspect(fake, "unix:///x")  # type: ignore[arg-type]
    assert info.value.kind == "api_too_old" and "needs 1.41" in info.value.message


def test_secrets_never_in_messages(tls_engine, ca):  # type: ignore[no-untyped-def]
    client = ca.issue("panel", server=False)
    other = CA("x")
    with pytest.raises(EngineError) as info:
        check_connection(tls_cluster(tls_engine.endpoint, other.pem, client))
    assert "PRIVATE KEY" not in str(info.value) and client.key[40:80] not in str(info.value)
