"""A loopback HTTP proxy that tunnels CONNECT requests to local servers, never to the internet.

With HTTPS_PROXY pointing here and SSL_CERT_FILE at the test CA, a client asking for
"https://dashscope-intl.aliyuncs.com" lands on the fake DashScope TLS server, whose certificate
covers the official names. Every tunnel goes to `upstream` unless `route(hostname, target)` says
otherwise; a name with nowhere to go gets 502. Plain-HTTP absolute-URI requests are forwarded to
`http_upstream`. Misbehaviour on demand: require_auth (407), refuse (403/502...), drop, blackhole.
"""

import base64
import http.client
import select
import socket
import threading
from dataclasses import dataclass, field
from typing import Dict, Optional
from urllib.parse import urlsplit

from .server import LoopbackHTTPServer, QuietHandler, Startable

CONNECT_TIMEOUT = 5.0
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "proxy-connection",
              "te", "trailer", "transfer-encoding", "upgrade"}


@dataclass
class ProxyRequest:
    method: str
    target: str                    # "host:port" for CONNECT, the absolute URI otherwise
    headers: Dict[str, str] = field(repr=False)
    status: Optional[int] = None   # what the proxy answered (None: it never answered)

    @property
    def hostname(self):
        if self.method == "CONNECT":
            return self.target.rsplit(":", 1)[0].strip("[]").lower()
        return (urlsplit(self.target).hostname or "").lower()


def _address(target):
    return tuple(target.address) if hasattr(target, "address") else tuple(target)


class _Handler(QuietHandler):
    rbufsize = 0  # unbuffered, so no byte a client sends after CONNECT is left behind in a buffer

    def do_CONNECT(self):
        self.server.proxy._connect(self)

    def do_GET(self):
        self.server.proxy._forward(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET


class ConnectProxy(Startable):
    def __init__(self, upstream=None, http_upstream=None):
        """upstream: where tunnels go (a fake with .address, or a (host, port) pair);
        http_upstream: where plain-HTTP requests go."""
        self._defaults = (upstream, http_upstream)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = LoopbackHTTPServer(_Handler)
        self._server.proxy = self
        self.reset()

    def start(self):
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self):
        self._stopping.set()
        self._server.stop()

    def reset(self):
        with self._lock:
            self.upstream, self.http_upstream = self._defaults
            self.requests = []
            self._routes = {}
            self._credentials = None
            self.mode = None
            self.refuse_status = None

    @property
    def address(self):
        return ("127.0.0.1", self._server.port)

    @property
    def url(self):
        return "http://127.0.0.1:{}".format(self._server.port)

    def url_with_credentials(self, user, password):
        return "http://{}:{}@127.0.0.1:{}".format(user, password, self._server.port)

    # -- configuration -------------------------------------------------------------------------------

    def route(self, hostname, target):
        """Send tunnels for hostname to target (a fake with .address, or (host, port))."""
        with self._lock:
            self._routes[hostname.lower()] = target

    def require_auth(self, user, password):
        """Answer 407 unless Proxy-Authorization is Basic user:password."""
        token = base64.b64encode("{}:{}".format(user, password).encode("utf-8")).decode("ascii")
        self._credentials = "Basic " + token

    def refuse(self, status=403):
        """Answer every request with status instead of opening a tunnel."""
        self.mode, self.refuse_status = "refuse", status

    def drop(self):
        """Close every connection as soon as its request has been read."""
        self.mode = "drop"

    def blackhole(self):
        """Read every request and never answer (until the client gives up)."""
        self.mode = "blackhole"

    # -- what it saw ---------------------------------------------------------------------------------

    @property
    def connects(self):
        """CONNECT targets ("host:port") in arrival order."""
        return [r.target for r in list(self.requests) if r.method == "CONNECT"]

    def tunnels_to(self, hostname):
        return [r for r in list(self.requests) if r.method == "CONNECT" and r.hostname == hostname.lower()]

    # -- serving -------------------------------------------------------------------------------------

    def _admit(self, handler):
        """Record the request and apply the misbehaviour modes; True when it may go on."""
        record = ProxyRequest(handler.command, handler.path,
                              {name.lower(): value for name, value in handler.headers.items()})
        with self._lock:
            self.requests.append(record)
        handler.close_connection = True
        if self.mode == "drop":
            return None
        if self.mode == "blackhole":
            self._wait_for_hangup(handler.connection)
            return None
        if self.mode == "refuse":
            self._answer(handler, record, self.refuse_status, "tunnel refused by test proxy")
            return None
        if self._credentials and handler.headers.get("Proxy-Authorization") != self._credentials:
            self._answer(handler, record, 407, "proxy authentication required",
                         {"Proxy-Authenticate": 'Basic realm="test-proxy"'})
            return None
        return record

    def _answer(self, handler, record, status, text, headers=None):
        record.status = status
        body = text.encode("utf-8")
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _target_for(self, hostname):
        with self._lock:
            return self._routes.get(hostname, self.upstream)

    def _open(self, target):
        upstream = socket.create_connection(_address(target), timeout=CONNECT_TIMEOUT)
        if hasattr(target, "mark_proxied"):
            target.mark_proxied(upstream.getsockname())
        return upstream

    def _connect(self, handler):
        record = self._admit(handler)
        if record is None:
            return
        target = self._target_for(record.hostname)
        try:
            if target is None:
                raise OSError("no route")
            upstream = self._open(target)
        except OSError:
            self._answer(handler, record, 502, "no route to " + record.target)
            return
        record.status = 200
        with upstream:
            handler.send_response_only(200, "Connection established")
            handler.end_headers()
            upstream.settimeout(None)
            self._relay(handler.connection, upstream)

    def _forward(self, handler):
        record = self._admit(handler)
        if record is None:
            return
        parts = urlsplit(handler.path)
        if not parts.scheme or self.http_upstream is None:
            self._answer(handler, record, 502, "no route to " + handler.path)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection(*_address(self.http_upstream), timeout=CONNECT_TIMEOUT)
        try:
            connection.sock = self._open(self.http_upstream)
            connection.request(handler.command, (parts.path or "/") + ("?" + parts.query if parts.query else ""),
                               body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self._answer(handler, record, 502, "upstream failed")
            return
        finally:
            connection.close()
        record.status = response.status
        handler.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "server", "date"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def _relay(self, client, upstream):
        sockets = [client, upstream]
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select(sockets, [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
            except OSError:
                return

    def _wait_for_hangup(self, client):
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([client], [], [], 0.2)
                if readable and not client.recv(65536):
                    return
            except OSError:
                return
