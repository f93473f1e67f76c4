"""What an OSS endpoint said, made safe to copy into the result.

Anything may answer at a configured endpoint: OSS, a proxy, a captive portal, a hostile server. So
every field read from an answer is bounded, stripped of control characters and checked against the
shape it must have (a code looks like a code, a region like a region) before it is shown; a field
that carries a piece of the AccessKey pair, in any letter case, is masked or dropped.
"""

import base64
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from .redact import redact, redact_url

MAX_TEXT = 200
UNRECOGNISED = "unrecognised"

_CODE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REQUEST_ID = _CODE
_REGION = re.compile(r"^(?=.{4,32}$)[a-z]{2,}-[a-z0-9-]+$")
_REGION_IN_ENDPOINT = re.compile(r"oss-([A-Za-z0-9-]+?)(?:-internal)?\.aliyuncs\.com")
# Read only as far as needed: a field is cut to MAX_TEXT anyway, and a 1 MB body must stay cheap.
_MAX_FIELD = 4 * MAX_TEXT


@dataclass
class OssError:
    """An error answer's fields, each already checked (None when absent or not trustworthy)."""
    code: Optional[str] = None           # as sent, UNRECOGNISED when it does not look like a code
    message: str = ""
    request_id: Optional[str] = None
    suggested_region: Optional[str] = None
    names_endpoint: bool = False         # the answer says which endpoint to use: a wrong region


def secret_forms(secrets):
    """The secrets as a server may echo them: as they are, lowercased (host names, <Endpoint>) and
    uppercased, for redact(). Used on server text only: our own messages name variables such as
    ..._AK_SECRET, which a secret that happens to hold those letters would mask in any case."""
    forms = []
    for secret in secrets:
        for form in (secret, secret.lower(), secret.upper()):
            if form and form not in forms:
                forms.append(form)
    return forms


def bounded(text, limit=MAX_TEXT):
    """One line of at most limit characters: control and format characters (line breaks, terminal
    escapes, bidi overrides) become spaces, and a cut is marked with an ASCII ellipsis."""
    cut = len(text) > limit
    text = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in text[:limit])
    text = " ".join(text.split())
    return text[:limit - 3].rstrip() + "..." if cut else text


def server_text(text, secrets, limit=MAX_TEXT):
    """Free text from a server (a message, a Location), fit to show."""
    if text is None:
        return None
    return redact(bounded(str(text), limit), secret_forms(secrets))


def _clean(value, shape, secrets):
    """value when it has the shape and holds no piece of a secret in any case, else None."""
    if value is None or not shape.fullmatch(value):
        return None
    return value if redact(value, secret_forms(secrets)) == value else None


def safe_code(code, secrets):
    if code is None:
        return None
    return _clean(code, _CODE, secrets) or UNRECOGNISED


def safe_request_id(request_id, secrets):
    return _clean(request_id, _REQUEST_ID, secrets)


def region_in(text, secrets):
    """The region id in an OSS host name found in text (oss-cn-shanghai.aliyuncs.com), if it looks
    like one and is not an echo of a secret."""
    found = _REGION_IN_ENDPOINT.search(text or "")
    return _clean(found.group(1), _REGION, secrets) if found else None


def safe_location(location, secrets):
    """A redirect target without its query string (signed URLs carry credentials there)."""
    return server_text(redact_url(location), secrets) if location else None


def _xml_field(text, name):
    """The first <name>...</name>. Plain find(), not a lazy regex: a body of many unclosed tags would
    make the regex rescan to the end from each one."""
    start = text.find("<{}>".format(name))
    if start < 0:
        return None
    start += len(name) + 2
    end = text.find("</{}>".format(name), start)
    return text[start:end].strip()[:_MAX_FIELD + 1] if end >= 0 else None


def _error_text(exchange):
    text = exchange.text() if exchange.body else ""
    if "<Code>" not in text and exchange.headers.get("x-oss-err"):
        try:
            text = base64.b64decode(exchange.headers["x-oss-err"]).decode("utf-8", "replace")
        except ValueError:
            text = ""
    return text


def parse_error(exchange, secrets=()) -> OssError:
    """The error OSS sent: the XML body, or on HEAD (no body) the base64 x-oss-err header.
    Only Code, Message, RequestId and Endpoint are read: OSS also echoes the AccessKey ID and the
    string to sign, which must never be shown."""
    text = _error_text(exchange)
    message = server_text(_xml_field(text, "Message") or "", secrets)
    request_id = safe_request_id(_xml_field(text, "RequestId"), secrets)
    if request_id is None:
        request_id = safe_request_id(exchange.headers.get("x-oss-request-id"), secrets)
    endpoint = _xml_field(text, "Endpoint")
    return OssError(code=safe_code(_xml_field(text, "Code"), secrets), message=message,
                    request_id=request_id, names_endpoint=bool(endpoint),
                    suggested_region=region_in(endpoint, secrets) or region_in(message, secrets))
