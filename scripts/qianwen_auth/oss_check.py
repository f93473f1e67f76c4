"""The custom OSS bucket check: PUT a tiny object, GET it back, try to DELETE it; map OSS errors to
plain verdicts. Token-free, and it cleans up where the keys allow it.

A least-privilege RAM user (oss:PutObject and oss:GetObject only) cannot delete: that DELETE is
denied by design, so the check stays ok and names the object left behind.
"""

import re
import secrets as random_source
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Dict, List, Optional
from urllib.parse import urlsplit

from . import oss_signer, probe
from .oss_answer import UNRECOGNISED, parse_error, safe_location, server_text
from .oss_config import DEDICATED_PAIR, ENDPOINT, REGION, OssConfig, load_oss_config
from .redact import redact

OK, NOT_CONFIGURED, CONFIG_ERROR = "ok", "not_configured", "config_error"
INVALID_CREDENTIALS, ACCESS_DENIED, NO_SUCH_BUCKET = "invalid_credentials", "access_denied", "no_such_bucket"
WRONG_REGION, ENDPOINT_FORBIDDEN, UNREACHABLE, ERROR = (
    "wrong_region", "endpoint_forbidden", "unreachable", "error")
STATUSES = (OK, NOT_CONFIGURED, CONFIG_ERROR, INVALID_CREDENTIALS, ACCESS_DENIED, NO_SUCH_BUCKET,
            WRONG_REGION, ENDPOINT_FORBIDDEN, UNREACHABLE, ERROR)
PASSING = (OK, NOT_CONFIGURED)
EXIT_OSS_FAILED = 6
LIFECYCLE_HINT = ("add a lifecycle rule on the bucket that deletes {prefix}/.auth-probe/ objects after 1 day, "
                  "so probe objects the keys may not delete do not pile up")
NOT_CONFIGURED_HINT = ("optional: to upload to your own bucket, set QWEN_TMP_OSS_BUCKET, QWEN_TMP_OSS_REGION and "
                       "QWEN_TMP_OSS_AK_ID / QWEN_TMP_OSS_AK_SECRET (see references/custom-oss.md)")

STEP_OK, STEP_DENIED, STEP_SKIPPED, STEP_ERROR = "ok", "denied", "skipped", "error"
_PERMISSION = {"put": "oss:PutObject", "get": "oss:GetObject", "delete": "oss:DeleteObject"}
_WRONG_ENDPOINT = re.compile(r"must be addressed using the specified endpoint", re.IGNORECASE)
_NETWORK_HINTS = {
    probe.TIMEOUT: "no answer in time: check the network connection, VPN or proxy, or raise --timeout",
    probe.PROXY: "the proxy failed: check HTTPS_PROXY / https_proxy and NO_PROXY",
    probe.RESET: "the connection was closed without an answer: check your proxy or firewall",
    probe.BAD_REQUEST: "the request could not be built: check {} for odd characters".format(ENDPOINT),
    probe.CA_FILE: "SSL_CERT_FILE / SSL_CERT_DIR cannot be used (see the note): fix or unset them",
    probe.BAD_RESPONSE: ("the endpoint did not answer in valid HTTP: check the scheme, host and port in {}"
                         .format(ENDPOINT)),
}
_UNTRUSTED_HINT = ("the TLS certificate was not trusted: behind an intercepting proxy, point SSL_CERT_FILE "
                   "at its CA bundle (certificate checks are never turned off)")


@dataclass
class OssResult:
    configured: bool = False
    status: str = NOT_CONFIGURED
    bucket: Optional[str] = None
    region: Optional[str] = None
    endpoint: Optional[str] = None
    credentials_source: Optional[str] = None
    fingerprint: Optional[str] = None
    steps: Dict[str, str] = field(default_factory=lambda: {"put": STEP_SKIPPED, "get": STEP_SKIPPED,
                                                           "delete": STEP_SKIPPED})
    object_key: Optional[str] = None
    left_behind: Optional[str] = None
    http_status: Optional[int] = None
    error_code: Optional[str] = None
    request_id: Optional[str] = None
    suggested_region: Optional[str] = None
    hint: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self):
        return self.status == OK

    @property
    def failed(self):
        return self.status not in PASSING

    def to_json(self):
        return {"configured": self.configured, "status": self.status, "ok": self.ok,
                "bucket": self.bucket, "region": self.region, "endpoint": self.endpoint,
                "credentials_source": self.credentials_source, "fingerprint": self.fingerprint,
                "steps": dict(self.steps), "object": self.object_key, "left_behind": self.left_behind,
                "http_status": self.http_status, "error_code": self.error_code,
                "request_id": self.request_id, "suggested_region": self.suggested_region,
                "hint": self.hint, "notes": list(self.notes)}

    def lines(self):
        if not self.configured:
            return ["OSS:       not configured ({} unset); uploads use the 48-hour temporary storage".format(
                "QWEN_TMP_OSS_BUCKET")]
        where = "OSS:       bucket {}".format(self.bucket or "(not set)")
        if self.region:
            where += " ({})".format(self.region)
        if self.endpoint:
            where += " via {}".format(self.endpoint)
        if self.credentials_source:
            where += ", keys from {} ({})".format(self.credentials_source, self.fingerprint)
        lines = [where]
        if self.status != CONFIG_ERROR:
            lines.append("OSS steps: " + ", ".join("{} {}".format(step.upper(), state)
                                                    for step, state in self.steps.items()))
        verdict = "OSS status: " + self.status
        if self.error_code:
            verdict += " ({})".format(self.error_code)
        lines.append(verdict)
        lines.extend("OSS note:  " + note for note in self.notes)
        if self.hint and self.configured:
            lines.append("OSS next:  " + self.hint)
        return lines


def probe_key(prefix, now=None):
    now = now or datetime.now(timezone.utc)
    return "{}/.auth-probe/{}-{}.txt".format(prefix, now.strftime("%Y%m%dT%H%M%SZ"),
                                              random_source.token_hex(4))


def build_request(config: OssConfig, method, key, body=None, now=None) -> probe.Request:
    headers = {}
    if body is not None:
        # Set (and so sign) the Content-Type here: urllib would otherwise add an unsigned one.
        headers["Content-Type"] = "text/plain; charset=utf-8"
    signed = oss_signer.sign(method, config.bucket, key, headers, config.access_key_id,
                             config.access_key_secret, config.region, now=now)
    return probe.Request(method, config.object_url(key), signed, body)


def network_hint(config: OssConfig, exchange) -> str:
    """The next step for a request that got no HTTP answer, likeliest cause first: the network on
    this computer fails far more often than a valid region or an endpoint nobody set."""
    host = urlsplit(config.endpoint or "").hostname or "the endpoint"
    setting = ("the host in {}".format(ENDPOINT) if config.endpoint_configured
               else "{} (the host name is built from it)".format(REGION))
    if exchange.error == probe.DNS:
        return ("{} does not resolve: check the network connection, DNS, VPN or proxy (HTTPS_PROXY) first; "
                "if other sites resolve, check {}".format(host, setting))
    if exchange.error == probe.REFUSED:
        if config.endpoint_configured:
            return "nothing listens at {}: check the host and port in {}".format(
                urlsplit(config.endpoint).netloc, ENDPOINT)
        return "the connection to {} was refused: check a firewall, VPN or proxy".format(host)
    if exchange.error in (probe.TLS, probe.TLS_HANDSHAKE):
        return _tls_hint(config, exchange.detail)
    return _NETWORK_HINTS.get(exchange.error, "a network error stopped the request: check the network connection")


def _tls_hint(config, detail):
    """A certificate that is not trusted, one for another name, or no TLS at all (a plain-HTTP port)."""
    text = (detail or "").lower()
    if "certificate" not in text:
        if config.endpoint_configured:
            return ("the endpoint did not speak TLS (a plain-HTTP port, or the wrong port): check the scheme "
                    "and port in {}".format(ENDPOINT))
        return "the TLS handshake with OSS failed: a proxy or firewall may interfere; check HTTPS_PROXY / https_proxy"
    if "mismatch" in text or "not valid for" in text:
        if config.endpoint_configured:
            return ("the TLS certificate does not name this host: check the host in {} (a custom domain needs "
                    "a certificate for that name)".format(ENDPOINT))
        return ("the TLS certificate does not name the OSS host: something between here and OSS answered "
                "(an intercepting proxy?); check HTTPS_PROXY and SSL_CERT_FILE")
    return _UNTRUSTED_HINT


def _network_failure(result, config, exchange, step, secrets):
    result.status = UNREACHABLE
    result.error_code = exchange.error
    result.hint = network_hint(config, exchange)
    result.notes.append("{} failed: {} ({})".format(step.upper(), exchange.error,
                                                   server_text(exchange.detail, secrets)))


def _not_oss_hint(config, status):
    if config.endpoint_configured:
        return ("the endpoint answered HTTP {} but did not answer like OSS (no recognisable OSS error code): check "
                "that {} is an OSS endpoint or a custom domain bound to the bucket".format(status, ENDPOINT))
    return ("HTTP {} came back for the OSS host but it did not answer like OSS (no recognisable OSS error code): "
            "a proxy or gateway may have answered; check HTTPS_PROXY / https_proxy".format(status))


def _unmapped_hint(status, code, error):
    hint = "OSS answered HTTP {} {}".format(status, code)
    if status is not None and status >= 500:
        hint += ": try again in a minute"
    elif error.message:
        hint += ": see the OSS answer in the notes"
    if error.request_id:
        hint += " (request id {}, for Alibaba Cloud support)".format(error.request_id)
    return hint


def _apply_error(result, config, exchange, step, secrets):
    """Turn a rejected PUT or GET into the verdict and the one next step."""
    error = parse_error(exchange, secrets)
    result.http_status, result.error_code, result.request_id = exchange.status, error.code, error.request_id
    code = error.code or ""
    if code == "InvalidAccessKeyId":
        result.status = INVALID_CREDENTIALS
        result.hint = ("OSS does not know this AccessKey ID or it is disabled: check it in the RAM console "
                       "and set {}".format(DEDICATED_PAIR[0]))
    elif code == "SignatureDoesNotMatch":
        result.status = INVALID_CREDENTIALS
        result.hint = "the AccessKey secret does not belong to this AccessKey ID: set {} again".format(
            DEDICATED_PAIR[1])
    elif code == "PermanentRedirect" or (code == "AccessDenied" and (
            error.names_endpoint or _WRONG_ENDPOINT.search(error.message))):
        result.status = WRONG_REGION
        result.suggested_region = error.suggested_region
        if error.suggested_region:
            result.hint = "the bucket is in {0}: set {1}={0}".format(error.suggested_region, REGION)
        else:
            result.hint = "the bucket is in another region: set {} to the bucket's region".format(REGION)
    elif code == "AccessDenied":
        result.status = ACCESS_DENIED
        result.hint = "the RAM user lacks {} on this bucket: grant it (a policy on acs:oss:*:*:{}/{}/*)".format(
            _PERMISSION[step], config.bucket, config.prefix)
    elif code == "NoSuchBucket":
        result.status = NO_SUCH_BUCKET
        result.hint = "no bucket named {} in {}: check {} and {}".format(
            config.bucket, config.region, "QWEN_TMP_OSS_BUCKET", REGION)
    elif code == "PublicEndpointForbidden":
        result.status = ENDPOINT_FORBIDDEN
        result.hint = ("this account may not use the public OSS endpoint: bind a custom domain to the bucket, "
                       "or use oss-{}-internal.aliyuncs.com from inside Alibaba Cloud, and set {}".format(
                           config.region, ENDPOINT))
    else:
        result.status = ERROR
        if code == "RequestTimeTooSkewed":
            result.hint = "this computer's clock is more than 15 minutes off: fix the system time"
        elif exchange.status is not None and 300 <= exchange.status < 400:
            result.hint = "the endpoint answered with a redirect to {}: it was not followed; check {}".format(
                safe_location(exchange.location, secrets) or "elsewhere", ENDPOINT)
        elif code in ("", UNRECOGNISED):
            result.hint = _not_oss_hint(config, exchange.status)
        else:
            result.hint = _unmapped_hint(exchange.status, code, error)
    if result.status != ACCESS_DENIED:
        result.steps[step] = STEP_ERROR   # "denied" is kept for missing permissions
    if error.message:
        result.notes.append("{} answer: {}".format(step.upper(), error.message))


def _step_state(exchange):
    if exchange.error:
        return STEP_ERROR
    if exchange.status is not None and 200 <= exchange.status < 300:
        return STEP_OK
    return STEP_DENIED if parse_error(exchange, ()).code == "AccessDenied" else STEP_ERROR


def check(config: OssConfig, deadline, now=None) -> OssResult:
    """Run the probe for a loaded configuration (see load_oss_config)."""
    result = OssResult(configured=config.configured, bucket=config.bucket, region=config.region,
                       endpoint=config.endpoint, credentials_source=config.credentials_source,
                       fingerprint=config.fingerprint, notes=list(config.notes))
    if not config.configured:
        result.hint = NOT_CONFIGURED_HINT
        return result
    if config.error:
        result.status, result.hint = CONFIG_ERROR, config.hint or config.error
        result.notes.insert(0, config.error)
    else:
        _probe(result, config, deadline, now)
    return _scrubbed(result, config.secrets)


def _scrubbed(result, secrets):
    """The result with every string redacted once more: nothing in it may carry the AccessKey pair,
    whoever renders it and whatever they redact against."""
    for item in fields(result):
        value = getattr(result, item.name)
        if isinstance(value, str):
            setattr(result, item.name, redact(value, secrets))
    result.notes = [redact(note, secrets) for note in result.notes]
    return result


def _probe(result, config, deadline, now):
    secrets = config.secrets
    key = probe_key(config.prefix, now)
    result.object_key = key
    body = "qianwen-ops-auth OSS probe {}\n".format(key.rsplit("/", 1)[-1]).encode("ascii")

    put = probe.send(build_request(config, "PUT", key, body, now), deadline, secrets)
    result.steps["put"] = _step_state(put)
    if put.error:
        _network_failure(result, config, put, "put", secrets)
        return
    if result.steps["put"] != STEP_OK:
        _apply_error(result, config, put, "put", secrets)
        return

    got = probe.send(build_request(config, "GET", key, now=now), deadline, secrets)
    result.steps["get"] = _step_state(got)
    if got.error:
        _network_failure(result, config, got, "get", secrets)
    elif result.steps["get"] != STEP_OK:
        _apply_error(result, config, got, "get", secrets)
    elif got.body != body:
        result.steps["get"] = STEP_ERROR
        result.status, result.error_code = ERROR, "ContentMismatch"
        result.hint = ("GET returned {} bytes that differ from the {} bytes put: something between here and "
                       "the bucket (CDN, proxy, custom domain) rewrites or caches objects".format(len(got.body), len(body)))

    _clean_up(result, config, key, deadline, now)
    if result.steps["put"] == STEP_OK and result.steps["get"] == STEP_OK:
        result.status = OK
        if result.left_behind:
            result.hint = LIFECYCLE_HINT.format(prefix=config.prefix)


def _clean_up(result, config, key, deadline, now):
    """Try DELETE; least-privilege keys are denied, which is expected and only leaves a tiny object."""
    result.left_behind = key
    if time.monotonic() >= deadline:
        result.notes.append("DELETE not tried: no time left; left behind: {}".format(key))
        return
    removed = probe.send(build_request(config, "DELETE", key, now=now), deadline, config.secrets)
    result.steps["delete"] = _step_state(removed)
    if result.steps["delete"] == STEP_OK:
        result.left_behind = None
    elif result.steps["delete"] == STEP_DENIED:
        result.notes.append("DELETE denied, as expected for least-privilege keys (PutObject + GetObject); "
                            "left behind: {}".format(key))
    else:
        result.notes.append("DELETE failed ({}); left behind: {}".format(
            removed.error or "HTTP {}".format(removed.status), key))


def run_oss_check(chain, deadline, secrets_sink=None, now=None) -> OssResult:
    """Load the settings from chain (a credentials.ConfigChain) and run the check before deadline
    (a time.monotonic() value). The AccessKey pair is appended to secrets_sink for redaction."""
    config = load_oss_config(chain)
    if secrets_sink is not None:
        secrets_sink.extend(config.secrets)
    if deadline is None:
        deadline = time.monotonic() + 10
    return check(config, deadline, now)


def oss_secrets(chain) -> List[str]:
    """The AccessKey ID and secret the check would use, for the caller's redaction list."""
    return load_oss_config(chain).secrets


def oss_exit_code(result: Optional[OssResult], key_exit_code: Optional[int], oss_only: bool) -> int:
    """--oss-only: 0 for ok and not_configured, 6 otherwise. With the key check: the key's exit
    code, or 6 when that is 0 and the OSS check failed."""
    failed = result is not None and result.failed
    if oss_only:
        return EXIT_OSS_FAILED if failed else 0
    if key_exit_code:
        return key_exit_code
    return EXIT_OSS_FAILED if failed else 0


class BackgroundCheck:
    """The OSS check running beside the API key check, so one --timeout bounds both."""

    def __init__(self, chain, timeout):
        import threading
        self.deadline = time.monotonic() + timeout
        self.secrets = oss_secrets(chain)
        self._chain = chain
        self._outcome = {}
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self):
        try:
            self._outcome["result"] = run_oss_check(self._chain, self.deadline)
        except Exception as error:  # re-raised in the caller's thread, where errors are reported
            self._outcome["error"] = error

    def result(self) -> OssResult:
        self._thread.join(max(0.0, self.deadline - time.monotonic()) + 1.0)
        if "error" in self._outcome:
            raise self._outcome["error"]
        if "result" not in self._outcome:
            config = load_oss_config(self._chain)
            result = OssResult(configured=True, status=UNREACHABLE, bucket=config.bucket, region=config.region,
                               endpoint=config.endpoint, credentials_source=config.credentials_source,
                               fingerprint=config.fingerprint, error_code=probe.TIMEOUT,
                               hint=_NETWORK_HINTS[probe.TIMEOUT], notes=list(config.notes))
            return result
        return self._outcome["result"]


def add_to_json(data, oss_result, key_exit_code, oss_only=False):
    """The verify.py JSON object with the `oss` object and the exit code that accounts for it."""
    data = dict(data)
    data["oss"] = oss_result.to_json()
    data["exit_code"] = oss_exit_code(oss_result, key_exit_code, oss_only)
    # `ok` answers "may the agent go on?": a failed OSS check says no even beside a valid key.
    data["ok"] = data["exit_code"] == 0
    if oss_only:
        data["hint"] = oss_result.hint or ""
    return data
