"""A fake OSS endpoint on loopback that checks every request the way OSS does and can play each
failure the bucket check must recognise.

It recomputes the V4 signature from what actually arrived (method, path, query, every header
received), so a header the HTTP library adds after signing, or a region written oss-cn-beijing in
the scope, fails here as it would at Alibaba. Requests to <bucket>.oss-<region>.aliyuncs.com take
the bucket from the Host header; any other host is a custom domain bound to the configured bucket.
"""

import base64
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

from qianwen_auth import oss_signer

from .server import Startable

ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "GetObject", "DELETE": "DeleteObject"}
MAX_SKEW = timedelta(minutes=15)


@dataclass
class RecordedRequest:
    method: str
    host: str
    path: str
    headers: Dict[str, str]
    body: bytes = b""
    bucket: Optional[str] = None
    key: Optional[str] = None
    signature_ok: Optional[bool] = None
    answer: Optional[Tuple[int, Optional[str]]] = None   # (HTTP status, OSS error code)


@dataclass
class Scenario:
    """What the fake plays. The defaults are a healthy bucket with full rights."""
    bucket_exists: bool = True
    bucket_region: Optional[str] = None          # set to another region: answer as a wrong endpoint
    wrong_region_as_redirect: bool = False       # 301 PermanentRedirect instead of 403 AccessDenied
    public_endpoint_forbidden: bool = False
    denied: set = field(default_factory=set)     # {"PutObject", "GetObject", "DeleteObject"}
    disabled_ids: set = field(default_factory=set)
    corrupt_reads: bool = False
    errors_in_header: bool = False               # the error only in a base64 x-oss-err header
    fail_with: Optional[Tuple[int, Optional[str]]] = None   # e.g. (503, None): a non-XML answer
    redirect_to: Optional[str] = None
    error_endpoint: Optional[str] = None         # what <Endpoint> says in a wrong-region answer
    error_request_id: Optional[str] = None       # what <RequestId> says in every error answer
    delay: float = 0.0


class FakeOss(Startable):
    def __init__(self, bucket="qianwen-probe-bucket", region="cn-beijing", credentials=None,
                 ssl_context=None):
        self.bucket = bucket
        self.region = region
        self.credentials = dict(credentials or {})
        self.scenario = Scenario()
        self.objects: Dict[Tuple[str, str], bytes] = {}
        self.requests: List[RecordedRequest] = []
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self._stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self._ssl_context is not None:
            self._server.socket = self._ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def address(self):
        """(host, port), what the CONNECT proxy's route() needs."""
        return self._server.server_address[:2]

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        scheme = "https" if self._ssl_context is not None else "http"
        return "{}://127.0.0.1:{}".format(scheme, self.port)

    @property
    def official_host(self):
        return "{}.oss-{}.aliyuncs.com".format(self.bucket, self.region)

    def requests_by(self, method):
        return [request for request in self.requests if request.method == method]

    # -- the rules ---------------------------------------------------------------------------------
    def answer(self, request: RecordedRequest, query):
        """Return (status, headers, body) for one request, checking as OSS does."""
        scenario = self.scenario
        if scenario.fail_with is not None:
            status, code = scenario.fail_with
            if code is None:
                return status, {"Content-Type": "text/html"}, b"<html><body>Service Unavailable</body></html>"
            return self.error(status, code, "The fake plays {}.".format(code))
        if scenario.redirect_to:
            return 302, {"Location": scenario.redirect_to}, b""
        if request.bucket != self.bucket or not scenario.bucket_exists:
            return self.error(404, "NoSuchBucket", "The specified bucket does not exist.",
                              BucketName=request.bucket or "")
        if scenario.bucket_region and scenario.bucket_region != self.region:
            endpoint = scenario.error_endpoint or "oss-{}.aliyuncs.com".format(scenario.bucket_region)
            if scenario.wrong_region_as_redirect:
                return self.error(301, "PermanentRedirect", "The bucket you are attempting to access must be "
                                  "addressed using the specified endpoint. Please send all future requests "
                                  "to this endpoint.", Bucket=self.bucket, Endpoint=endpoint)
            return self.error(403, "AccessDenied", "The bucket you are attempting to access must be addressed "
                              "using the specified endpoint. Please send all future requests to this endpoint.",
                              Bucket=self.bucket, Endpoint=endpoint)
        if scenario.public_endpoint_forbidden:
            return self.error(400, "PublicEndpointForbidden", "Access to the bucket through the public "
                              "endpoint is forbidden for this account.")
        problem = self.verify_signature(request, query)
        if problem is not None:
            return problem
        action = ACTIONS.get(request.method)
        if action is None:
            return self.error(405, "MethodNotAllowed", "The specified method is not allowed.")
        if action in scenario.denied:
            return self.error(403, "AccessDenied", "You have no right to access this object because of "
                              "bucket acl.")
        return self.perform(request)

    def perform(self, request):
        slot = (request.bucket, request.key)
        with self._lock:
            if request.method == "PUT":
                self.objects[slot] = request.body
                return 200, {"ETag": "\"{}\"".format(uuid.uuid4().hex.upper())}, b""
            if request.method == "DELETE":
                self.objects.pop(slot, None)
                return 204, {}, b""
            if slot not in self.objects:
                return self.error(404, "NoSuchKey", "The specified key does not exist.")
            body = self.objects[slot]
        if self.scenario.corrupt_reads:
            body = b"<html>cached by a CDN</html>"
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, body if request.method == "GET" else b""

    def verify_signature(self, request, query):
        value = request.headers.get("authorization", "")
        if not value:
            return self.error(403, "AccessDenied", "AccessDenied: Anonymous access is forbidden for this operation.")
        parsed = oss_signer.parse_authorization(value)
        if parsed is None:
            return self.error(400, "InvalidArgument", "Authorization header is invalid.")
        secret = self.credentials.get(parsed.access_key_id)
        if secret is None or parsed.access_key_id in self.scenario.disabled_ids:
            return self.error(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist "
                              "in our records.", OSSAccessKeyId=parsed.access_key_id)
        stamp = request.headers.get("x-oss-date", "")
        try:
            sent_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return self.error(400, "InvalidArgument", "x-oss-date is missing or malformed.")
        if abs(datetime.now(timezone.utc) - sent_at) > MAX_SKEW:
            return self.error(403, "RequestTimeTooSkewed", "The difference between the request time and the "
                              "current time is too large.")
        if (parsed.date != stamp[:8] or parsed.product != oss_signer.PRODUCT
                or parsed.terminator != oss_signer.TERMINATOR):
            return self.error(400, "InvalidArgument", "Invalid credential scope in Authorization header.")
        if parsed.region != self.region:
            return self.error(400, "InvalidArgument", "Invalid signing region in Authorization header.")
        canonical = oss_signer.canonical_request(request.method, request.bucket, request.key, query,
                                                 request.headers, parsed.additional)
        expected = oss_signer.signature(secret, stamp, parsed.region, canonical)
        request.signature_ok = expected == parsed.signature
        if not request.signature_ok:
            # As OSS does, echo what was signed, AccessKey ID included: the client must not print it.
            return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                              "match the signature you provided. Check your key and signing method.",
                              OSSAccessKeyId=parsed.access_key_id,
                              StringToSign=oss_signer.string_to_sign(stamp, parsed.region, canonical),
                              CanonicalRequest=canonical)
        return None

    def error(self, status, code, message, **extra):
        request_id = uuid.uuid4().hex[:24].upper()
        fields = "".join("<{0}>{1}</{0}>".format(name, _xml_escape(str(value))) for name, value in extra.items())
        shown_id = self.scenario.error_request_id or request_id
        xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>"
               "<RequestId>{}</RequestId><HostId>{}</HostId>{}</Error>").format(
            code, _xml_escape(message), _xml_escape(shown_id), self.official_host, fields).encode("utf-8")
        headers = {"x-oss-request-id": request_id}
        if self.scenario.errors_in_header:
            headers["x-oss-err"] = base64.b64encode(xml).decode("ascii")
            return status, headers, b""
        headers["Content-Type"] = "application/xml"
        return status, headers, xml


def _xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Handler(BaseHTTPRequestHandler):
    owner: FakeOss = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        parts = urlsplit(self.path)
        headers = {}
        for name, value in self.headers.items():
            lower = name.lower()
            headers[lower] = value if lower not in headers else headers[lower] + "," + value
        suffix = ".oss-{}.aliyuncs.com".format(owner.region)
        bucket = host[:-len(suffix)] if host.endswith(suffix) else owner.bucket
        request = RecordedRequest(self.command, host, parts.path, headers, body, bucket,
                                  unquote(parts.path[1:]) or None)
        with owner._lock:
            owner.requests.append(request)
        if owner.scenario.delay:
            owner._stop.wait(owner.scenario.delay)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        status, answer_headers, answer_body = owner.answer(request, query)
        request.answer = (status, None)
        if answer_headers.get("x-oss-err") or answer_body.startswith(b"<?xml"):
            request.answer = (status, _code_of(answer_headers, answer_body))
        self.send_response(status)
        answer_headers.setdefault("x-oss-request-id", uuid.uuid4().hex[:24].upper())
        for name, value in answer_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer_body)))
        self.end_headers()
        if self.command != "HEAD" and answer_body:
            self.wfile.write(answer_body)

    do_PUT = do_GET = do_DELETE = do_HEAD = do_POST = _handle


def _code_of(headers, body):
    text = body
    if headers.get("x-oss-err"):
        text = base64.b64decode(headers["x-oss-err"])
    start, end = text.find(b"<Code>"), text.find(b"</Code>")
    return text[start + 6:end].decode("utf-8") if start >= 0 and end > start else None
