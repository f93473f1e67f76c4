"""OSS signature version 4 (OSS4-HMAC-SHA256), as Alibaba Cloud documents it, standard library only.

    CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
                       AdditionalHeaders \n HashedPayload
    StringToSign     = "OSS4-HMAC-SHA256" \n Timestamp \n Scope \n hex(sha256(CanonicalRequest))
    Scope            = <yyyymmdd>/<region>/oss/aliyun_v4_request
    SigningKey       = HMAC chain over "aliyun_v4" + secret: date, region, "oss", "aliyun_v4_request"

The canonical URI is always /<bucket>/<key>, whichever host (virtual host or custom domain) the
request goes to. Every x-oss-* header, Content-Type and Content-MD5 are signed, so a Content-Type
must be set before signing: a header added later by the HTTP library would break the signature.
The region in the scope is the bare region id (cn-beijing), never the endpoint form oss-cn-beijing.
"""

import hashlib
import hmac
import re
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional
from urllib.parse import quote

ALGORITHM = "OSS4-HMAC-SHA256"
PRODUCT = "oss"
TERMINATOR = "aliyun_v4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_UNRESERVED = "-_.~"
_AUTHORIZATION = re.compile(
    r"^OSS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)"
    r"(?:\s*,\s*AdditionalHeaders=(?P<additional>[^,\s]*))?"
    r"\s*,\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$")


def timestamp(now: Optional[datetime] = None) -> str:
    """The x-oss-date value: UTC, ISO 8601 basic form (20231216T162057Z)."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


def scope(date: str, region: str) -> str:
    return "{}/{}/{}/{}".format(date, region, PRODUCT, TERMINATOR)


def is_signed_by_default(name: str) -> bool:
    name = name.lower()
    return name.startswith("x-oss-") or name in ("content-type", "content-md5")


def canonical_uri(bucket: Optional[str], key: Optional[str]) -> str:
    path = "/"
    if bucket:
        path += bucket + "/"
    if key:
        path += key
    return quote(path, safe="/" + _UNRESERVED)


def canonical_query(query: Optional[Mapping[str, Optional[str]]]) -> str:
    """Names and values percent-encoded, sorted by encoded name; a name without value stands alone."""
    pairs = []
    for name, value in (query or {}).items():
        encoded_value = quote(value, safe=_UNRESERVED) if value else ""
        pairs.append((quote(name, safe=_UNRESERVED), encoded_value))
    return "&".join(name + ("=" + value if value else "") for name, value in sorted(pairs))


def _signed_header_lines(headers: Mapping[str, str], additional: Iterable[str]) -> str:
    wanted = set(additional)
    lines = []
    for name, value in headers.items():
        lower = name.lower()
        if is_signed_by_default(lower) or lower in wanted:
            lines.append((lower, str(value).strip()))
    return "".join("{}:{}\n".format(name, value) for name, value in sorted(lines))


def additional_header_names(headers: Mapping[str, str], names: Iterable[str] = ()) -> List[str]:
    """The extra headers to sign: present, non-empty, not already signed by default; sorted."""
    present = {name.lower() for name, value in headers.items() if str(value)}
    return sorted({name.lower() for name in names
                   if not is_signed_by_default(name) and name.lower() in present})


def canonical_request(method: str, bucket: Optional[str], key: Optional[str],
                      query: Optional[Mapping[str, Optional[str]]], headers: Mapping[str, str],
                      additional: Iterable[str] = ()) -> str:
    additional = list(additional)
    payload = UNSIGNED_PAYLOAD
    for name, value in headers.items():
        if name.lower() == "x-oss-content-sha256":
            payload = value
    return "\n".join([method.upper(), canonical_uri(bucket, key), canonical_query(query),
                      _signed_header_lines(headers, additional), ";".join(additional), payload])


def string_to_sign(stamp: str, region: str, request_text: str) -> str:
    digest = hashlib.sha256(request_text.encode("utf-8")).hexdigest()
    return "\n".join([ALGORITHM, stamp, scope(stamp[:8], region), digest])


def signing_key(secret: str, date: str, region: str) -> bytes:
    key = ("aliyun_v4" + secret).encode("utf-8")
    for part in (date, region, PRODUCT, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(secret: str, stamp: str, region: str, request_text: str) -> str:
    text = string_to_sign(stamp, region, request_text)
    return hmac.new(signing_key(secret, stamp[:8], region), text.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def sign(method: str, bucket: str, key: Optional[str], headers: Mapping[str, str],
         access_key_id: str, access_key_secret: str, region: str,
         now: Optional[datetime] = None, query: Optional[Mapping[str, Optional[str]]] = None,
         additional: Iterable[str] = ()) -> Dict[str, str]:
    """Return headers plus x-oss-date, x-oss-content-sha256 and Authorization.

    headers must already hold every header that will be sent and signed (Content-Type included).
    """
    signed = dict(headers)
    stamp = timestamp(now)
    signed["x-oss-date"] = stamp
    if not any(name.lower() == "x-oss-content-sha256" for name in signed):
        signed["x-oss-content-sha256"] = UNSIGNED_PAYLOAD
    extra = additional_header_names(signed, additional)
    request_text = canonical_request(method, bucket, key, query, signed, extra)
    value = "{} Credential={}/{}".format(ALGORITHM, access_key_id, scope(stamp[:8], region))
    if extra:
        value += ",AdditionalHeaders=" + ";".join(extra)
    value += ",Signature=" + signature(access_key_secret, stamp, region, request_text)
    signed["Authorization"] = value
    return signed


class Authorization(NamedTuple):
    access_key_id: str
    date: str
    region: str
    product: str
    terminator: str
    additional: List[str]
    signature: str


def parse_authorization(value: str) -> Optional[Authorization]:
    """Split an OSS4-HMAC-SHA256 Authorization header; None when it is not one."""
    found = _AUTHORIZATION.match(value or "")
    if not found:
        return None
    parts = found.group("credential").split("/")
    if len(parts) != 5:
        return None
    additional = [name for name in (found.group("additional") or "").split(";") if name]
    return Authorization(parts[0], parts[1], parts[2], parts[3], parts[4], additional,
                         found.group("signature").lower())
