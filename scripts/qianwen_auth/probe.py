"""HTTP: single requests with no redirects, proxies and CA files from the environment, one deadline.

Every request runs in a daemon thread and is waited for only until the caller's deadline, so a
server that trickles bytes or a black-holed address cannot stretch the run past --timeout.
HTTP, TLS and proxy modules are imported here, when a request is made, to keep --help fast.
"""

import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .redact import redact, redact_url

MAX_BODY = 1024 * 1024

# Error kinds, as verdicts and hints speak of them.
DNS, REFUSED, TIMEOUT, TLS, PROXY, RESET, NETWORK, BAD_REQUEST = (
    "dns", "refused", "timeout", "tls", "proxy", "connection_reset", "network", "invalid_request")


@dataclass
class Request:
    method: str
    url: str
    headers: Dict[str, str] = field(default_factory=dict, repr=False)
    body: Optional[bytes] = field(default=None, repr=False)


@dataclass
class Exchange:
    """What one request got back. A status, or an error kind with a redacted detail."""
    method: str
    url: str
    status: Optional[int] = None
    headers: Dict[str, str] = field(default_factory=dict)
    body: bytes = field(default=b"", repr=False)
    elapsed_ms: int = 0
    error: Optional[str] = None
    detail: str = ""
    proxy: Optional[str] = None

    @property
    def location(self):
        return self.headers.get("location")

    def text(self):
        return self.body.decode("utf-8", "replace")


def proxy_for(url):
    """The proxy urllib will use for url (from HTTPS_PROXY / https_proxy / NO_PROXY), or None."""
    import urllib.parse
    import urllib.request
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def ssl_context():
    """The default verifying context, plus SSL_CERT_FILE / SSL_CERT_DIR when they are set
    (for intercepting proxies and private CAs). Verification is never turned off."""
    import ssl
    context = ssl.create_default_context()
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile or capath:
        context.load_verify_locations(cafile=cafile if cafile and os.path.isfile(cafile) else None,
                                      capath=capath if capath and os.path.isdir(capath) else None)
    return context


def _opener():
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        # A redirect would carry the key to a host nobody configured: report it, never follow it.
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(
        urllib.request.ProxyHandler(), NoRedirect(),
        urllib.request.HTTPSHandler(context=ssl_context()))


def _classify(error, proxy):
    import http.client
    import socket
    import ssl
    import urllib.error
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    text = str(reason)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return TLS, getattr(reason, "verify_message", None) or text
    if isinstance(reason, ssl.SSLError):
        return TLS, text
    if isinstance(reason, socket.gaierror):
        return (PROXY if proxy else DNS), text
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return TIMEOUT, text or "timed out"
    if "Tunnel connection failed" in text:
        return PROXY, text
    if isinstance(reason, ConnectionRefusedError):
        return (PROXY if proxy else REFUSED), text
    if isinstance(reason, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        return RESET, text
    if isinstance(reason, (ValueError, http.client.InvalidURL)):
        return BAD_REQUEST, text
    return NETWORK, text or type(reason).__name__


def _perform(request, timeout, secrets):
    import urllib.error
    import urllib.request
    proxy = proxy_for(request.url)
    exchange = Exchange(request.method, redact_url(request.url),
                        proxy=redact_url(proxy) if proxy else None)
    started = time.monotonic()
    try:
        prepared = urllib.request.Request(request.url, data=request.body, method=request.method,
                                          headers=request.headers)
        try:
            response = _opener().open(prepared, timeout=max(timeout, 0.05))
        except urllib.error.HTTPError as answer:
            response = answer
        with response:
            exchange.status = response.status if hasattr(response, "status") else response.code
            exchange.headers = {k.lower(): v for k, v in response.headers.items()}
            exchange.body = response.read(MAX_BODY)
    except Exception as error:  # every failure becomes a kind and a redacted detail
        exchange.status = None
        exchange.error, detail = _classify(error, proxy)
        exchange.detail = redact(detail, secrets)
    exchange.elapsed_ms = int((time.monotonic() - started) * 1000)
    return exchange


def send_all(requests: Sequence[Request], deadline, secrets=()) -> List[Exchange]:
    """Send requests concurrently; whatever has not answered by deadline (monotonic) is a timeout."""
    import threading
    results: List[Optional[Exchange]] = [None] * len(requests)
    finished = threading.Event()
    lock = threading.Lock()
    remaining = [len(requests)]

    def work(index, request):
        exchange = _perform(request, deadline - time.monotonic(), secrets)
        with lock:
            results[index] = exchange
            remaining[0] -= 1
            if remaining[0] == 0:
                finished.set()

    started = time.monotonic()
    for index, request in enumerate(requests):
        threading.Thread(target=work, args=(index, request), daemon=True).start()
    if requests:
        finished.wait(max(0.0, deadline - time.monotonic()))
    with lock:
        for index, request in enumerate(requests):
            if results[index] is None:
                results[index] = Exchange(request.method, redact_url(request.url), error=TIMEOUT,
                                          detail="no complete answer before the deadline",
                                          elapsed_ms=int((time.monotonic() - started) * 1000),
                                          proxy=redact_url(proxy_for(request.url) or "") or None)
        return list(results)


def send(request: Request, deadline, secrets=()) -> Exchange:
    return send_all([request], deadline, secrets)[0]
