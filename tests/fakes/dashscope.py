"""A fake DashScope on 127.0.0.1, plain HTTP or TLS, that records every request it gets.

The region is decided by the Host header, as a client reaching "https://dashscope-intl.aliyuncs.com"
through the CONNECT proxy sends it; loopback and unknown names get default_region. Keys are accepted
per region (server.accept(key, region="intl")); Token Plan keys (sk-sp-) only on Token Plan hosts.
Tests steer answers with scenarios (canned answers, named errors, redirects, delays, dropped
connections) and read back server.requests to assert what was sent, where, and whether the key went.

Usable without pytest, e.g. from a benchmark:

    with FakeDashScope(latency=0.1) as server:
        server.accept("sk-...")
        ...  # send requests to server.url
"""

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional
from urllib.parse import urlsplit

from . import dashscope_bodies as bodies
from .server import LoopbackHTTPServer, QuietHandler, Startable

REGION_HOSTS = {
    "cn": "dashscope.aliyuncs.com",
    "intl": "dashscope-intl.aliyuncs.com",
    "us": "dashscope-us.aliyuncs.com",
    "hk": "cn-hongkong.dashscope.aliyuncs.com",
}
TOKEN_PLAN_CN, TOKEN_PLAN_INTL = "token_plan_cn", "token_plan_intl"
TOKEN_PLAN_HOSTS = {
    TOKEN_PLAN_CN: "token-plan.cn-beijing.maas.aliyuncs.com",
    TOKEN_PLAN_INTL: "token-plan.ap-southeast-1.maas.aliyuncs.com",
}
HOST_REGIONS = {host: region for region, host in list(REGION_HOSTS.items()) + list(TOKEN_PLAN_HOSTS.items())}
OFFICIAL_BASE_URLS = {region: "https://" + host for host, region in HOST_REGIONS.items()}

NATIVE_MODELS = "/api/v1/models"
COMPATIBLE_MODELS = "/compatible-mode/v1/models"
CHAT = "/compatible-mode/v1/chat/completions"
ROUTES = {NATIVE_MODELS: "GET", COMPATIBLE_MODELS: "GET", CHAT: "POST"}
FREE_PROBES = (NATIVE_MODELS, COMPATIBLE_MODELS)
TOKEN_PLAN_PREFIX = "sk-sp-"


@dataclass
class RecordedRequest:
    method: str
    path: str                      # as sent, with the query string
    host: str                      # Host header without the port, lower case
    region: str                    # the region the fake decided from the Host header
    # Kept out of repr, so that a failing assertion does not print a key into the test log.
    headers: Dict[str, str] = field(repr=False)  # header names in lower case
    body: bytes = field(repr=False)
    via_proxy: bool                # came through the ConnectProxy
    key: Optional[str] = field(repr=False)  # the Bearer token (or the raw Authorization value)

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def route(self):
        return urlsplit(self.path).path


@dataclass
class Scenario:
    """One steering rule. path is the request path without its query, as sent or relative to the
    gateway prefix ("/api/v1/models" matches "/gateway/api/v1/models" too); path or region None means
    any. The newest matching rule that answers wins; the delays of all matching rules add up."""
    path: Optional[str] = None
    region: Optional[str] = None
    status: Optional[int] = None
    body: object = b""
    headers: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None
    location: Optional[str] = None
    delay: float = 0.0
    drop: bool = False
    once: bool = False

    def matches(self, paths, region):
        return (self.path is None or self.path in paths) and (self.region is None or self.region == region)

    @property
    def answers(self):
        return self.drop or self.status is not None or self.error is not None or self.location is not None


class _Handler(QuietHandler):
    def do_GET(self):
        self.server.fake._handle(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET


class FakeDashScope(Startable):
    def __init__(self, tls_context=None, default_region="cn", latency=0.0, prefix=""):
        self._defaults = dict(default_region=default_region, latency=latency, prefix=prefix)
        self._lock = threading.Lock()
        self._server = LoopbackHTTPServer(_Handler, tls_context)
        self._server.fake = self
        self.reset()

    # -- life cycle --------------------------------------------------------------------------------

    def start(self):
        self._server.start()
        return self

    def stop(self):
        self._server.stop()

    def reset(self):
        """Forget requests, keys and scenarios; back to the constructor's settings."""
        with self._lock:
            self.requests: List[RecordedRequest] = []
            # Requests held at once since this reset: proves concurrency without clocks. A request of
            # an earlier test that is still being held belongs to the old generation and is not counted.
            self._generation = getattr(self, "_generation", 0) + 1
            self.in_flight = 0
            self.max_in_flight = 0
            self._keys: Dict[str, set] = {}
            self._scenarios: List[Scenario] = []
            self._rejected_regions = set()
            self._proxied_peers = set()
            self.default_region = self._defaults["default_region"]
            self.latency = self._defaults["latency"]
            self.prefix = self._defaults["prefix"]
            self.echo_key = False
            self.free_probes_status = None

    # -- where it listens ----------------------------------------------------------------------------

    @property
    def tls(self):
        return self._server.tls_context is not None

    @property
    def address(self):
        return ("127.0.0.1", self._server.port)

    @property
    def port(self):
        return self._server.port

    @property
    def url(self):
        """Root URL on loopback, gateway prefix included: http(s)://127.0.0.1:PORT[/prefix]."""
        return "{}://127.0.0.1:{}{}".format("https" if self.tls else "http", self.port, self.prefix)

    @property
    def native_url(self):
        return self.url + "/api/v1"

    @property
    def compatible_url(self):
        return self.url + "/compatible-mode/v1"

    # -- what it accepts ------------------------------------------------------------------------------

    def accept(self, key, region="cn"):
        """Accept key in region (cn, intl, us, hk, token_plan_cn, token_plan_intl)."""
        token_plan_region = region in TOKEN_PLAN_HOSTS
        if region not in REGION_HOSTS and not token_plan_region:
            raise ValueError("unknown region {!r}".format(region))
        if key.startswith(TOKEN_PLAN_PREFIX) != token_plan_region:
            raise ValueError("Token Plan keys belong to Token Plan regions only, standard keys elsewhere")
        with self._lock:
            self._keys.setdefault(key, set()).add(region)

    def reject_region(self, region):
        """Make every request to region answer 401 InvalidApiKey, whatever the key."""
        with self._lock:
            self._rejected_regions.add(region)

    def disable_free_probes(self, status=404):
        """Answer the models endpoints with status (404 or 405), as gateways without them do."""
        self.free_probes_status = status

    # -- scenarios -----------------------------------------------------------------------------------

    def _add(self, scenario):
        with self._lock:
            self._scenarios.append(scenario)
        return scenario

    def respond(self, status, body=b"", headers=None, path=None, region=None, once=False):
        """A canned answer: body may be bytes, str (HTML, text) or a dict/list (sent as JSON).
        Canned answers skip the key check and carry only the headers given."""
        return self._add(Scenario(path=path, region=region, status=status, body=body,
                                  headers=dict(headers or {}), once=once))

    def fail(self, error, path=None, region=None, status=None, retry_after=1, headers=None, once=False):
        """Answer with a real DashScope error body (a name from dashscope_bodies.ERRORS), shaped for
        the route (native or compatible-mode). status overrides the real one (200 = business error).
        A 429 carries Retry-After: retry_after unless that is None."""
        if error not in bodies.ERRORS:
            raise ValueError("unknown error {!r}; known: {}".format(error, sorted(bodies.ERRORS)))
        headers = dict(headers or {})
        if (status or bodies.ERRORS[error].status) == 429 and retry_after is not None:
            headers.setdefault("Retry-After", str(retry_after))
        return self._add(Scenario(path=path, region=region, status=status, error=error, headers=headers,
                                  once=once))

    def redirect(self, location, status=302, path=None, region=None, once=False):
        return self._add(Scenario(path=path, region=region, status=status, location=location, once=once))

    def delay(self, seconds, path=None, region=None):
        """Wait seconds before answering matching requests (on top of self.latency)."""
        return self._add(Scenario(path=path, region=region, delay=seconds))

    def drop(self, path=None, region=None, once=False):
        """Close the connection without answering."""
        return self._add(Scenario(path=path, region=region, drop=True, once=once))

    # -- what it saw -----------------------------------------------------------------------------------

    def requests_for(self, host):
        """Requests whose Host header named host (without port), e.g. "dashscope-intl.aliyuncs.com"."""
        host = host.lower()
        return [r for r in list(self.requests) if r.host == host]

    def requests_in(self, region):
        return [r for r in list(self.requests) if r.region == region]

    def keys_seen(self):
        """Distinct credentials presented, in arrival order."""
        seen = []
        for record in list(self.requests):
            if record.key is not None and record.key not in seen:
                seen.append(record.key)
        return seen

    def mark_proxied(self, peer):
        """Called by ConnectProxy with the local address of each upstream connection it opens."""
        with self._lock:
            self._proxied_peers.add(tuple(peer[:2]))

    # -- answering -------------------------------------------------------------------------------------

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        path = urlsplit(handler.path).path
        host = handler.headers.get("Host", "").rsplit(":", 1)[0].strip("[]").lower()
        region = HOST_REGIONS.get(host, self.default_region)
        authorization = handler.headers.get("Authorization")
        key = authorization[7:] if authorization and authorization[:7].lower() == "bearer " else authorization
        route = self._route(path)
        with self._lock:
            via_proxy = tuple(handler.client_address[:2]) in self._proxied_peers
            self.requests.append(RecordedRequest(
                handler.command, handler.path, host, region,
                {name.lower(): value for name, value in handler.headers.items()}, body, via_proxy, key))
            generation = self._generation
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            matching = [s for s in self._scenarios if s.matches((path, route), region)]
            answer = next((s for s in reversed(matching) if s.answers), None)
            if answer is not None and answer.once:
                self._scenarios.remove(answer)
        try:
            self._answer(handler, route, key, region, body, matching, answer, authorization)
        finally:
            with self._lock:
                if generation == self._generation:
                    self.in_flight -= 1

    def _answer(self, handler, route, key, region, body, matching, answer, authorization):
        pause = self.latency + sum(s.delay for s in matching)
        if pause > 0:
            time.sleep(pause)
        if answer is not None and answer.drop:
            handler.close_connection = True
            return
        reply = _Reply(handler, route, key, self.echo_key)
        if answer is not None:
            reply.scenario(answer)
        elif region in self._rejected_regions:
            reply.error("invalid_api_key")
        elif route is None:
            reply.json(404, bodies.not_found(False, reply.request_id))
        elif route in FREE_PROBES and self.free_probes_status:
            reply.json(self.free_probes_status, bodies.not_found(route != NATIVE_MODELS, reply.request_id))
        elif route not in ROUTES:
            reply.json(404, bodies.not_found(reply.compatible, reply.request_id))
        elif handler.command != ROUTES[route]:
            reply.json(405, bodies.not_found(reply.compatible, reply.request_id), {"Allow": ROUTES[route]})
        elif not authorization:
            reply.error("no_api_key")
        elif not self._accepts(key, region):
            reply.error("invalid_api_key")
        else:
            reply.success(body)

    def _route(self, path):
        if not self.prefix:
            return path
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return path[len(self.prefix):]
        return None

    def _accepts(self, key, region):
        with self._lock:
            return bool(key) and region in self._keys.get(key, ())


class _Reply:
    """Writes one answer; JSON bodies carry request_id and an x-request-id header like the service."""

    def __init__(self, handler, route, key, echo_key):
        self.handler = handler
        self.route = route or ""
        self.compatible = self.route.startswith("/compatible-mode/")
        self.echoed = key if echo_key else None
        self.request_id = bodies.new_request_id()

    def send(self, status, body, headers):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode("utf-8")
            kind = "text/html" if body.lstrip()[:1] == b"<" else "text/plain"
            headers.setdefault("Content-Type", kind + "; charset=utf-8")
        self.handler.send_response(status)
        for name, value in headers.items():
            self.handler.send_header(name, value)
        self.handler.send_header("Content-Length", str(len(body)))
        self.handler.end_headers()
        if self.handler.command != "HEAD":
            self.handler.wfile.write(body)

    def json(self, status, body, headers=None):
        headers = dict(headers or {})
        headers.setdefault("x-request-id", self.request_id)
        self.send(status, body, headers)

    def error(self, name, status=None, headers=None):
        error = bodies.ERRORS[name]
        body = bodies.error_body(error, self.compatible, self.request_id, self.echoed)
        self.json(status or error.status, body, headers)

    def scenario(self, scenario):
        if scenario.error is not None:
            self.error(scenario.error, scenario.status, scenario.headers)
        elif scenario.location is not None:
            headers = dict(scenario.headers, Location=scenario.location)
            self.send(scenario.status or 302, b"", headers)
        else:
            self.send(scenario.status, scenario.body, dict(scenario.headers))

    def success(self, request_body):
        if self.route == NATIVE_MODELS:
            self.json(200, bodies.native_models(self.request_id))
        elif self.route == COMPATIBLE_MODELS:
            self.json(200, bodies.compatible_models(self.request_id))
        else:
            try:
                payload = json.loads(request_body.decode("utf-8"))
                model = payload["model"] if isinstance(payload.get("messages"), list) else None
            except (ValueError, KeyError, TypeError, AttributeError):
                model = None
            if not isinstance(model, str):
                self.error("invalid_parameter")
                return
            self.json(200, bodies.chat_completion(model, self.request_id))
