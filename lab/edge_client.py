"""An HTTP client that reaches the lab's sites through the lab's edge, as a browser would reach them
through DNS: URLs keep the site's own domain (cookies, redirects and the Host header stay right),
while every connection goes to the edge's address, with the domain as TLS SNI, and the certificate
served for it is verified against the lab's CA (lab/edge_tls.py) and the domain, as a browser would.

    with edge_session() as http:
        http.get("https://shop.lab.test/web/login")         # to 10.231.0.1:443, SNI shop.lab.test
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from lab.edge import ADDRESS
from lab.edge_tls import CA_CERT


class EdgeAdapter(HTTPAdapter):
    def __init__(self, address: str = ADDRESS, **kwargs: Any) -> None:
        self.address = address
        super().__init__(**kwargs)

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        url = urlsplit(request.url)
        https = url.scheme == "https"
        pool_kwargs = {
            "server_hostname": url.hostname,
            "assert_hostname": url.hostname,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": str(CA_CERT),
        }
        return self.poolmanager.connection_from_host(
            self.address,
            url.port or (443 if https else 80),
            scheme=url.scheme,
            pool_kwargs=pool_kwargs if https else {},
        )

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        request.headers["Host"] = urlsplit(request.url).netloc
        # requests sets the CA bundle on each connection from `verify`: the lab's CA, never certifi's.
        return super().send(request, *args, **{**kwargs, "verify": str(CA_CERT)})


def edge_session(address: str = ADDRESS) -> requests.Session:
    session = requests.Session()
    adapter = EdgeAdapter(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # never a proxy from the environment: only the lab's own address
    return session
