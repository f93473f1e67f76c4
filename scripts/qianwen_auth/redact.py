"""The one place where secrets are scrubbed from text on its way out.

Everything that may hold server text, exception text or a path goes through redact() before it is
printed or saved. Two layers: known secrets (any 6-character piece of them is masked, so partial
echoes are caught too) and key-shaped strings we do not know about (another key in a server body).
"""

import json
import re
import urllib.parse

MASK = "***"
_PIECE = 6
_SHORTEST_SECRET = 8

# Key-shaped strings: DashScope keys keep only their type prefix, AccessKey IDs lose everything.
# Lookbehinds instead of \b so "api_key_sk-..." is caught while "task-" or "disk-" is not, and
# so every pattern can start only at the beginning of a run (no quadratic rescans on long text).
_KEY_PATTERNS = (
    (re.compile(r"(?<![A-Za-z0-9])sk-sp-[A-Za-z0-9_\-]{4,}"), "sk-sp-" + MASK),
    (re.compile(r"(?<![A-Za-z0-9])sk-(?!sp-)[A-Za-z0-9_\-]{4,}"), "sk-" + MASK),
    (re.compile(r"(?<![A-Za-z0-9])(?:LTAI|STS\.)[A-Za-z0-9]{4,}"), MASK),
    # user:password in any URL: the user stays, the password goes.
    (re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*):[^\s/?#@]*@"),
     r"\1:" + MASK + "@"),
    (re.compile(r"(?i)(?<![a-z])(bearer)\s+[^\s,;\"']+"), r"\1 " + MASK),
    # Basic credentials are only base64 of user:password: a proxy may echo them in a 407.
    (re.compile(r"(?i)(?<![a-z])(basic)\s+[A-Za-z0-9+/=_-]{6,}"), r"\1 " + MASK),
    # Authorization values of any other scheme (the scheme word stays when there is one).
    (re.compile(r"(?i)(?<![a-z])(authorization[\"']?\s*[:=]\s*[\"']?)(?!bearer\s)"
                r"(?:([a-z0-9-]+ )(?=[^\s,;\"']))?[^\s,;\"']+"), r"\1\2" + MASK),
    # Signed URLs and credential fields in query strings, JSON or headers.
    # A field name must stand on its own ("api_key=", not "QIANWEN_API_KEY: env"), so our own report
    # lines that name variables are left readable.
    (re.compile(r"(?i)(?<![a-z0-9_])((?:x-oss-signature|signature|x-oss-credential|credential|"
                r"oss_?access_?key_?id|access_?key_?id|access_?key_?secret|x-oss-security-token|"
                r"security-?token|x-acs-security-token|secret_?key|client_?secret|api_?key|password)"
                r"[\"']?\s*[=:]\s*[\"']?)[^&\s\"'<>,;}]+"), r"\1" + MASK),
    # OSS error bodies echo the credential and signature in XML elements.
    (re.compile(r"(?i)(<(?:OSSAccessKeyId|AccessKeyId|SignatureProvided|SecurityToken|StringToSign)>)"
                r"[^<]*"), r"\1" + MASK),
)


def secret_part(secret):
    """The part of a key that must never be shown: everything after its type prefix."""
    for prefix in ("sk-sp-", "sk-"):
        if secret.startswith(prefix):
            return secret[len(prefix):]
    return secret


def _forms(secret):
    """The ways a secret's hidden part may be spelled in text that leaves: as is, percent-encoded
    (query strings), and with backslash escapes (repr of a header value in a ValueError, JSON)."""
    hidden = secret_part(secret.strip())
    forms = {hidden}
    if hidden:
        forms.add(urllib.parse.quote(hidden.encode("utf-8", "surrogatepass"), safe=""))
        forms.add(hidden.encode("unicode_escape").decode("ascii"))
        forms.add(json.dumps(hidden)[1:-1])
        forms.add(repr(hidden.encode("utf-8", "backslashreplace"))[2:-1])
    return {form for form in forms if form}


def _lower_same_length(text):
    """text in lower case, one character for one, so indices still line up (a server may echo a
    key upper-cased or lower-cased)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)


def _masked_spans(text, pieces):
    """Merged [start, end) spans of text covered by any of the (lower-case) 6-character pieces."""
    spans = []
    lowered = _lower_same_length(text)
    for start in range(len(text) - _PIECE + 1):
        if lowered[start:start + _PIECE] in pieces:
            if spans and start <= spans[-1][1]:
                spans[-1][1] = start + _PIECE
            else:
                spans.append([start, start + _PIECE])
    return spans


def _mask_known(text, secrets):
    pieces = set()
    for secret in secrets:
        if not secret:
            continue
        for form in _forms(str(secret)):
            if len(form) < _SHORTEST_SECRET:
                # Too short to be a key or an AccessKey: masking it would garble ordinary words.
                continue
            form = _lower_same_length(form)
            pieces.update(form[i:i + _PIECE] for i in range(len(form) - _PIECE + 1))
    if not pieces:
        return text
    parts, done = [], 0
    for start, end in _masked_spans(text, pieces):
        parts.append(text[done:start])
        parts.append(MASK)
        done = end
    parts.append(text[done:])
    return "".join(parts)


def redact(text, secrets=()):
    """Return text with every known secret (or 6-char piece of one) and key-shaped string masked.

    Pass every form a secret had (the raw value as found and the cleaned key); None stays None.
    """
    if text is None:
        return None
    # Lone surrogates (undecodable bytes from a path, a variable or a server) cannot be written to
    # any stream or file: spell them as escapes once, here, where all output passes.
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    text = _mask_known(text, secrets)
    for pattern, replacement in _KEY_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url, keep_query=False):
    """A URL fit to show: no user:password and, unless keep_query (for URLs we built ourselves),
    no query string or fragment, since signed URLs carry credentials there."""
    if not url:
        return url
    url = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", str(url))
    return url if keep_query else url.split("?", 1)[0].split("#", 1)[0]


def redact_data(data, secrets=()):
    """redact() every string inside a JSON-like structure. Redacting the serialised text instead
    could cut a backslash escape in half and leave invalid JSON."""
    if isinstance(data, str):
        return redact(data, secrets)
    if isinstance(data, dict):
        return {redact(str(key), secrets): redact_data(value, secrets) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(value, secrets) for value in data]
    return data
