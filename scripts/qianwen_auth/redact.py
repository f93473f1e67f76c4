"""The one place where secrets are scrubbed from text on its way out.

Everything that may hold server text, exception text or a path goes through redact() before it is
printed or saved. Two layers: known secrets (any 6-character piece of them is masked, so partial
echoes are caught too) and key-shaped strings we do not know about (another key in a server body).
"""

import re

MASK = "***"
_PIECE = 6

# Key-shaped strings: DashScope keys keep only their type prefix, AccessKey IDs lose everything.
_KEY_PATTERNS = (
    (re.compile(r"\bsk-sp-[A-Za-z0-9_\-]{4,}"), "sk-sp-" + MASK),
    (re.compile(r"\bsk-(?!sp-)[A-Za-z0-9_\-]{4,}"), "sk-" + MASK),
    (re.compile(r"\bLTAI[A-Za-z0-9]{4,}"), MASK),
    (re.compile(r"(?i)\b(bearer)\s+[^\s,;\"']+"), r"\1 " + MASK),
    (re.compile(r"(?i)(x-oss-signature|signature|credential|accesskeyid|access_key_secret)=[^&\s\"'<]+"),
     r"\1=" + MASK),
)


def secret_part(secret):
    """The part of a key that must never be shown: everything after its type prefix."""
    for prefix in ("sk-sp-", "sk-"):
        if secret.startswith(prefix):
            return secret[len(prefix):]
    return secret


def _masked_spans(text, secret):
    pieces = {secret[i:i + _PIECE] for i in range(len(secret) - _PIECE + 1)}
    spans = []
    for start in range(len(text) - _PIECE + 1):
        if text[start:start + _PIECE] in pieces:
            if spans and start <= spans[-1][1]:
                spans[-1][1] = start + _PIECE
            else:
                spans.append([start, start + _PIECE])
    return spans


def redact(text, secrets=()):
    """Return text with every known secret (or 6-char piece of one) and key-shaped string masked."""
    if text is None:
        return None
    text = str(text)
    for secret in secrets:
        if not secret:
            continue
        hidden = secret_part(secret)
        if len(hidden) < _PIECE:
            text = text.replace(hidden, MASK) if hidden else text
            continue
        for start, end in reversed(_masked_spans(text, hidden)):
            text = text[:start] + MASK + text[end:]
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
