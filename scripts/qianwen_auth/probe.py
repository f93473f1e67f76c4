"""HTTP: single requests with no redirects, proxies and CA files from the environment, one deadline.

Every request runs in a daemon thread and is waited for only until the caller's deadline, so a
server that trickles bytes or a black-holed address cannot stretch the run past --timeout.
HTTP, TLS and proxy modules are imported here, when a request is made, to keep --help fast.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .redact import redact, redact_url

MAX_BODY = 1024 * 1024
_CONTEXT_LOCK = threading.Lock()

# Error kinds, as verdicts and hints speak of them.
DNS, REFUSED, TIMEOUT, TLS, PROXY, RESET, NETWORK, BAD_REQUEST = (
    "dns", "refused", "timeout", "tls", "proxy", "connection_reset", "network", "invalid_request")
TLS_HANDSHAKE = "tls_handshake"   # not an untrusted certificate: no TLS there, or a broken middlebox
CA_FILE = "ca_file"               # SSL_CERT_FILE / SSL_CERT_DIR point to nothing usable
BAD_RESPONSE = "bad_response"     # something answered, but not in valid HTTP


class CaFileError(Exception):
    """The CA settings of the environment cannot be used; the message says which and why."""


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: bytes | None = field(default=None, repr=False)


@dataclass
class Exchange:
    """What one request got back. A status, or an error kind with a redacted detail."""
    method: str
    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = field(default=b"", repr=False)
    elapsed_ms: int = 0
    error: str | None = None
    detail: str = ""

    @property
    def location(self):
        return self.headers.get("location")

    def text(self):
        return self.body.decode("utf-8", "replace")


def proxy_for(url):
    """The proxy for url (from HTTPS_PROXY / https_proxy / NO_PROXY), or None. Loopback never goes
    through a proxy: plain http to loopback would hand the key to the proxy in clear text."""
    import urllib.parse
    import urllib.request
    from .endpoints import is_loopback
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    host = parts.hostname or ""
    if not proxy or is_loopback(host) or urllib.request.proxy_bypass(host):
        return None
    return proxy


def _proxy_problem(proxy):
    """Why a proxy URL cannot be used, in our words (its text may hold a password), or None."""
    import urllib.parse
    try:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        parts.port
    except ValueError:
        return "the proxy URL in HTTPS_PROXY / https_proxy is malformed: check its host and port"
    if not parts.hostname:
        return "the proxy URL in HTTPS_PROXY / https_proxy has no host"
    return None


_CONTEXT = []


def shared_ssl_context():
    """One verifying context for the whole run: building one reads the system's CA store, which
    costs more than a loopback round trip, and a region scan would otherwise build four."""
    with _CONTEXT_LOCK:
        if not _CONTEXT:
            _CONTEXT.append(ssl_context())
        return _CONTEXT[0]


def ssl_context():
    """The default verifying context, plus SSL_CERT_FILE / SSL_CERT_DIR when they are set
    (for intercepting proxies and private CAs). Verification is never turned off."""
    import ssl
    context = ssl.create_default_context()
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile and not os.path.isfile(cafile):
        raise CaFileError("SSL_CERT_FILE={} is not a file: fix it or unset it".format(cafile))
    if capath and not os.path.isdir(capath):
        raise CaFileError("SSL_CERT_DIR={} is not a folder: fix it or unset it".format(capath))
    if cafile or capath:
        try:
            context.load_verify_locations(cafile=cafile, capath=capath)
        except (ssl.SSLError, OSError, ValueError) as error:
            named = "SSL_CERT_FILE={}".format(cafile) if cafile else "SSL_CERT_DIR={}".format(capath)
            raise CaFileError("{} holds no usable PEM certificates ({})".format(
                named, type(error).__name__)) from None
    return context


def _opener(proxy, https):
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        # A redirect would carry the key to a host nobody configured: report it, never follow it.
        def redirect_request(self, *args, **kwargs):
            return None

    handlers = [urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}), NoRedirect()]
    if https:
        handlers.append(urllib.request.HTTPSHandler(context=shared_ssl_context()))
    return urllib.request.build_opener(*handlers)


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
        return TLS_HANDSHAKE, text
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
    if isinstance(reason, http.client.HTTPException) and not isinstance(reason, http.client.InvalidURL):
        return BAD_RESPONSE, "{}: {}".format(type(reason).__name__, text)[:300]
    if isinstance(reason, (ValueError, http.client.InvalidURL)):
        return BAD_REQUEST, text
    return NETWORK, text or type(reason).__name__


def _perform(request, timeout, secrets):
    import urllib.error
    import urllib.request
    proxy = proxy_for(request.url)
    exchange = Exchange(request.method, redact_url(request.url))
    started = time.monotonic()
    problem = _proxy_problem(proxy) if proxy else None
    if problem:
        exchange.error, exchange.detail = PROXY, problem
        return exchange
    try:
        opener = _opener(proxy, request.url.lower().startswith("https:"))
    except CaFileError as error:
        exchange.error, exchange.detail = CA_FILE, redact(str(error), secrets)
        return exchange
    try:
        prepared = urllib.request.Request(request.url, data=request.body, method=request.method,
                                          headers=request.headers)
        try:
            response = opener.open(prepared, timeout=max(timeout, 0.05))
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


class Pending:
    """Requests under way, each in a daemon thread; result() waits for them until the deadline."""

    def __init__(self, requests: Sequence[Request], deadline, secrets=()):
        import urllib.request  # noqa: F401  (imported once here, not in every worker thread)
        self.requests = list(requests)
        self.deadline = deadline
        self.started = time.monotonic()
        self._results: list[Exchange | None] = [None] * len(self.requests)
        self._remaining = len(self.requests)
        self._lock = threading.Lock()
        self._finished = threading.Event()
        for index, request in enumerate(self.requests):
            threading.Thread(target=self._work, args=(index, request, secrets), daemon=True).start()

    def _work(self, index, request, secrets):
        exchange = _perform(request, self.deadline - time.monotonic(), secrets)
        with self._lock:
            self._results[index] = exchange
            self._remaining -= 1
            if self._remaining == 0:
                self._finished.set()

    def result(self) -> list[Exchange]:
        """Every answer; whatever has not answered by the deadline (monotonic) is a timeout."""
        if self.requests:
            self._finished.wait(max(0.0, self.deadline - time.monotonic()))
        with self._lock:
            for index, request in enumerate(self.requests):
                if self._results[index] is None:
                    self._results[index] = Exchange(
                        request.method, redact_url(request.url), error=TIMEOUT,
                        detail="no complete answer before the deadline",
                        elapsed_ms=int((time.monotonic() - self.started) * 1000))
            return list(self._results)


def start_all(requests: Sequence[Request], deadline, secrets=()) -> Pending:
    """Start requests concurrently and return at once."""
    return Pending(requests, deadline, secrets)


def send_all(requests: Sequence[Request], deadline, secrets=()) -> list[Exchange]:
    """Send requests concurrently and wait for them (until deadline, a time.monotonic() value)."""
    return start_all(requests, deadline, secrets).result()


def send(request: Request, deadline, secrets=()) -> Exchange:
    return send_all([request], deadline, secrets)[0]
