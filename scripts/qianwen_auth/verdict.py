"""From an HTTP answer to a probe outcome, and from the run to a status, an exit code and a hint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from . import probe as http
from .redact import redact_url

# Status -> exit code, as documented in the README and SKILL.md.
EXIT_CODES = {
    "valid": 0, "invalid_key": 1, "wrong_region": 1, "token_plan_key": 1, "access_denied": 1,
    "config_error": 2, "not_configured": 3, "unreachable": 4, "api_error": 5,
}

# Probe outcomes.
ACCEPTED, REJECTED, DENIED, MISSING, API_ERROR, UNREACHABLE = (
    "accepted", "rejected", "denied", "missing", "api_error", "unreachable")

_REJECTED_CODES = {"invalidapikey", "invalid_api_key", "invalidaccesskeyid", "unauthorized"}
_DENIED_CODES_PREFIX = ("accessdenied", "model.accessdenied", "workspace.accessdenied")


@dataclass
class Outcome:
    kind: str
    http_status: int | None = None
    error_code: str | None = None
    request_id: str | None = None
    message: str | None = None      # server text, already redacted
    retry_after: str | None = None
    location: str | None = None     # where a redirect pointed (no query string)
    reason: str | None = None       # why api_error / unreachable, in our words


def _json_body(exchange):
    try:
        data = json.loads(exchange.text())
    except (ValueError, RecursionError):  # RecursionError: a hostile, deeply nested body
        return None
    return data if isinstance(data, dict) else None


def _error_fields(data):
    """(code, message, request_id) from a native or an OpenAI-compatible error body."""
    if not data:
        return None, None, None
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    code = data.get("code") or error.get("code") or error.get("type")
    message = data.get("message") or error.get("message")
    request_id = data.get("request_id") or data.get("requestId") or data.get("id")
    return _token(code), (str(message)[:500] if message else None), _token(request_id)


def _token(value, pattern=re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")):
    """A server-given code or id as we show it: a plain token, or nothing. A hostile server could
    put anything there (objects, megabytes, the key)."""
    if value in (None, "") or isinstance(value, (dict, list, bool)):
        return None
    text = str(value)
    return text if pattern.match(text) else None


def classify(exchange, chat=False, redact_text=lambda text: text):
    """What one answer means. `chat` applies the chat probe's stricter idea of success."""
    if exchange.error == http.BAD_RESPONSE:
        return Outcome(API_ERROR, reason="bad_response", message=exchange.detail)
    if exchange.error:
        return Outcome(UNREACHABLE, reason=exchange.error, message=exchange.detail)
    status = exchange.status
    data = _json_body(exchange)
    code, message, request_id = _error_fields(data)
    request_id = (_token(exchange.headers.get("x-request-id"))
                  or _token(exchange.headers.get("x-dashscope-request-id"))
                  or _token(exchange.headers.get("x-acs-request-id")) or request_id)
    outcome = Outcome(API_ERROR, status, code, request_id, redact_text(message) if message else None)
    if 300 <= status < 400:
        outcome.location = redact_text(redact_url(exchange.location)) if exchange.location else None
        outcome.reason = "redirect"
        return outcome
    lowered = (code or "").lower()
    if status == 401 or lowered in _REJECTED_CODES:
        outcome.kind = REJECTED
    elif status == 403 or lowered.startswith(_DENIED_CODES_PREFIX):
        outcome.kind = DENIED
    elif status in (404, 405) and lowered not in ("arrearage",):
        outcome.kind = MISSING
    elif status == 429:
        retry_after = (exchange.headers.get("retry-after") or "").strip()
        outcome.retry_after = retry_after if retry_after.isdigit() and len(retry_after) < 7 else None
        outcome.reason = "rate_limited"
    elif status >= 500:
        outcome.reason = "server_error"
    elif status != 200:
        outcome.reason = "arrearage" if lowered == "arrearage" else "unexpected_status"
    elif data is None:
        outcome.reason = "not_json"
    elif code and lowered not in ("200", "success", "ok"):
        outcome.reason = "business_error"
    elif chat and not _has_chat_content(data):
        outcome.reason = "unexpected_body"
    else:
        outcome.kind = ACCEPTED
    return outcome


def _has_chat_content(data):
    try:
        return isinstance(data["choices"][0]["message"]["content"], str)
    except (KeyError, IndexError, TypeError):
        return False


UNREACHABLE_HINTS = {
    http.DNS: "the host name could not be resolved: check the base URL and your DNS or VPN",
    http.REFUSED: "the connection was refused: check the base URL and port, or a firewall",
    http.TIMEOUT: "no answer in time: check your network, VPN or proxy, or raise --timeout",
    http.TLS: ("the TLS certificate was not trusted: behind an intercepting proxy, set SSL_CERT_FILE "
               "to your company's CA bundle (certificate checks are never turned off)"),
    http.PROXY: "the proxy failed: check HTTPS_PROXY / https_proxy and NO_PROXY",
    http.TLS_HANDSHAKE: ("the TLS handshake failed: is the port a TLS (https) port? A proxy or firewall "
                         "may also be breaking TLS"),
    http.CA_FILE: "the CA settings cannot be used: see the detail, then fix or unset them",
    http.RESET: "the connection was closed without an answer: check your proxy or firewall",
    http.NETWORK: "a network error stopped the request: check your connection",
    http.BAD_REQUEST: "the request could not be built: check the key and base URL for odd characters",
}

API_ERROR_HINTS = {
    "rate_limited": "rate limited (HTTP 429): wait{retry} and run again",
    "server_error": "the service answered with a server error: try again in a minute",
    "arrearage": ("the account is in arrears (overdue payment): top up at "
                  "https://platform.qianwenai.com/home/billing/pay-as-you-go, then run again"),
    "redirect": ("the endpoint answered with a redirect{location}; the key was not sent there. "
                 "Set QWEN_BASE_URL to the final address if you trust it"),
    "not_json": "the endpoint did not answer with JSON: is the base URL a DashScope API address?",
    "business_error": "the endpoint answered 200 with an error ({code}): see the message",
    "unexpected_body": "the endpoint answered 200 without the expected content: is it DashScope?",
    "unexpected_status": "the endpoint answered HTTP {status}{code_in_brackets}: see the detail",
    "bad_response": "the endpoint did not answer in valid HTTP: is the base URL (and its port) right?",
}


def api_error_hint(outcome):
    template = API_ERROR_HINTS.get(outcome.reason or "", API_ERROR_HINTS["unexpected_status"])
    return template.format(
        retry=" {} seconds".format(outcome.retry_after) if outcome.retry_after else " a little",
        location=" to {}".format(outcome.location) if outcome.location else "",
        code=outcome.error_code or "no code",
        code_in_brackets=" ({})".format(outcome.error_code) if outcome.error_code else "",
        status=outcome.http_status,
    )
