"""The Docker Engine adapter: one way to open a client for a cluster, and errors ops can act on.

Endpoints: unix socket, tcp with TLS client certificates (the PEMs are decrypted into a private
temporary folder only while a client is open: docker-py loads them from files), and ssh (through
the machine's own ssh client, keys and known_hosts: the panel stores no ssh key).
Every failure becomes an EngineError whose `kind` says what went wrong and whose message says
what to do; no secret ever reaches a message or a log.
"""

import contextlib
import datetime as dt
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import requests
from cryptography import x509
from docker.tls import TLSConfig

from panel.crypto import reveal

# Job-mode services (the one-off module update) need API 1.41 (Docker 20.10).
MIN_API = (1, 41)
MIN_API_TEXT = "1.41"
TIMEOUT = 15


class EngineError(Exception):
    """kind: unreachable, tls, cert_expired, not_swarm, not_manager, api_too_old, config, engine."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    node_id: str
    is_manager: bool


def _cert_expiry_problem(pem: str, what: str) -> EngineError | None:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return EngineError(
            "config",
            f"the {what} is not a PEM certificate; paste the whole -----BEGIN CERTIFICATE----- block",
        )
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        return EngineError(
            "cert_expired",
            f"the {what} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; issue a new one",
        )
    if cert.not_valid_before_utc > now:
        return EngineError(
            "cert_expired", f"the {what} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    return None


@contextlib.contextmanager
def _tls_files(cluster: Any) -> Iterator[TLSConfig]:
    for pem, what in ((cluster.tls_cert, "client certificate"), (cluster.tls_ca, "CA certificate")):
        problem = _cert_expiry_problem(reveal(pem), what)
        if problem:
            raise problem
    folder = tempfile.mkdtemp(prefix="panel-tls-")
    try:
        os.chmod(folder, 0o700)
        paths = {}
        for name, value in (
            ("ca.pem", cluster.tls_ca),
            ("cert.pem", cluster.tls_cert),
            ("key.pem", cluster.tls_key),
        ):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(reveal(value))
            paths[name] = path
        yield TLSConfig(
            client_cert=(paths["cert.pem"], paths["key.pem"]), ca_cert=paths["ca.pem"], verify=True
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _too_old(endpoint: str, api: str) -> EngineError:
    return EngineError(
        "api_too_old",
        f"the engine at {endpoint} speaks API {api}; "
        f"the panel needs {MIN_API_TEXT} (Docker Engine 20.10 or newer)",
    )


def _unreachable(endpoint: str) -> EngineError:
    return EngineError(
        "unreachable", f"cannot reach the engine at {endpoint}: is it running, is the address right?"
    )


def _classify(exc: BaseException, endpoint: str) -> EngineError:
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, EngineError):
        return exc
    if "is too new. maximum supported api version is" in lowered:
        return _too_old(endpoint, text.rsplit(" ", 1)[-1])
    if "certificate has expired" in lowered or "certificate expired" in lowered:
        return EngineError("cert_expired", f"TLS to {endpoint} failed: a certificate has expired; renew it")
    if (
        isinstance(exc, requests.exceptions.SSLError | ssl.SSLError)
        or "ssl" in lowered
        or "certificate" in lowered
    ):
        if "verify failed" in lowered:
            return EngineError(
                "tls",
                f"TLS to {endpoint} failed: the engine's certificate is not signed by the stored CA "
                "(wrong CA, or the engine presents another certificate)",
            )
        return EngineError(
            "tls", f"TLS to {endpoint} failed: the engine refused the client certificate or the handshake"
        )
    if isinstance(
        exc,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | FileNotFoundError
        | ConnectionError,
    ):
        return _unreachable(endpoint)
    if isinstance(exc, docker.errors.DockerException) and "connection" in lowered:
        return _unreachable(endpoint)
    return EngineError("engine", f"the engine at {endpoint} answered with an error: {text[:300]}")


@contextlib.contextmanager
def client_for(cluster: Any, timeout: int = TIMEOUT) -> Iterator[docker.DockerClient]:
    """Open a client for `cluster` (anything with endpoint and tls_* attributes)."""
    endpoint = cluster.endpoint
    try:
        with contextlib.ExitStack() as stack:
            # A fixed version, not "auto": negotiation would send a request before trust_env is off.
            kwargs: dict[str, Any] = {"base_url": endpoint, "version": MIN_API_TEXT, "timeout": timeout}
            if endpoint.startswith("tcp://"):
                if not (cluster.tls_ca and cluster.tls_cert and cluster.tls_key):
                    raise EngineError(
                        "config", "a tcp endpoint needs the CA, client certificate and client key"
                    )
                kwargs["tls"] = stack.enter_context(_tls_files(cluster))
                kwargs["base_url"] = "https://" + endpoint.removeprefix("tcp://")
            elif endpoint.startswith("ssh://"):
                kwargs["use_ssh_client"] = True
            client = docker.DockerClient(**kwargs)
            # requests would let REQUESTS_CA_BUNDLE replace the cluster's own CA (requests #3829)
            # and send engine traffic through HTTP(S)_PROXY: neither may apply to an engine.
            client.api.trust_env = False
            stack.callback(client.close)
            yield client
    except Exception as exc:
        raise _classify(exc, endpoint) from exc


def inspect(client: docker.DockerClient, endpoint: str) -> EngineInfo:
    """Check what the panel needs of an engine: recent API, Swarm mode, a manager."""
    version = client.version()
    api = str(version.get("ApiVersion", "0.0"))
    if tuple(int(p) for p in api.split(".")[:2]) < MIN_API:
        raise _too_old(endpoint, api)
    swarm = client.info().get("Swarm", {})
    if swarm.get("LocalNodeState") != "active":
        raise EngineError(
            "not_swarm",
            f"the engine at {endpoint} is not in Swarm mode "
            f"(state: {swarm.get('LocalNodeState') or 'inactive'}); "
            "run `docker swarm init` on the manager, or point the panel at a manager of an existing Swarm",
        )
    if not swarm.get("ControlAvailable"):
        raise EngineError(
            "not_manager",
            f"the engine at {endpoint} is a Swarm worker; the panel needs a manager node "
            "(services and node lists are only available there)",
        )
    return EngineInfo(
        version=str(version.get("Version", "")),
        api_version=api,
        node_id=str(swarm.get("NodeID", "")),
        is_manager=True,
    )


def check_connection(cluster: Any) -> EngineInfo:
    with client_for(cluster) as client:
        try:
            return inspect(client, cluster.endpoint)
        except EngineError:
            raise
        except Exception as exc:
            raise _classify(exc, cluster.endpoint) from exc
