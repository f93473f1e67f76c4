"""Local checks of an API key, before anything is sent: placeholder, paste repairs, bad characters,
key type and fingerprint. Nothing here touches the network."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

# What init_env.py writes; verify.py treats it as "not configured".
PLACEHOLDER = "sk-your-key-here"

STANDARD = "standard"
TOKEN_PLAN = "token_plan"
UNKNOWN = "unknown"

# Words that stand in for a key in docs and templates. Real keys are long runs of letters and digits,
# so a value is a placeholder only when it is made of such words, not when one happens to contain them.
_PLACEHOLDER_VOCABULARY = {
    "your", "my", "the", "a", "api", "key", "keys", "here", "placeholder", "replace", "replaceme",
    "change", "changeme", "me", "insert", "paste", "put", "enter", "example", "dummy", "redacted",
    "todo", "fixme", "secret", "token", "dashscope", "qianwen", "qwen", "xxx", "xxxx", "test", "fake",
}
_PLACEHOLDER_MARKS = re.compile(r"(\.\.\.|\*\*\*|[<>{}\[\]$])")
# Runs of x stand in for a key ("sk-xxxxxxxx1234"), but a random key may hold "xxxx" by chance, so
# they mark a placeholder only when they make up at least half of it.
_X_RUNS = re.compile(r"x{3,}|X{3,}")
# Two or more CJK ideographs are words ("你的密钥"), never part of a key; a single stray one is
# reported as a full-width character instead.
_CJK_IDEOGRAPHS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A URL pasted without its scheme: a host name followed by a path or port, or a bare common host.
_HOST_LIKE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.(?:[A-Za-z]{2,}(?::[0-9]+)?/|[A-Za-z]{2,}:[0-9]+$"
                        r"|(?:com|cn|net|org|io|ai)$)", re.IGNORECASE)
_REPEATED = re.compile(r"^(?:sk-(?:sp-)?)?(.)\1*$", re.IGNORECASE)
_QUOTE_CHARACTERS = "\"'`\u201c\u201d\u2018\u2019"
_BEARER = re.compile(r"^bearer\s+", re.IGNORECASE)
_QUOTES = ("\"", "'", "`", "\u201c\u201d", "\u2018\u2019")


@dataclass
class KeyCheck:
    """What the local checks found. Holds the cleaned key only in `cleaned`; never printed."""
    cleaned: str = field(repr=False)
    key_type: str | None = None
    placeholder: bool = False
    repairs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    invalid_reason: str | None = None

    @property
    def sendable(self):
        return bool(self.cleaned) and not self.placeholder and self.invalid_reason is None

    @property
    def fingerprint(self):
        return fingerprint(self.cleaned) if self.cleaned else None


def fingerprint(key):
    """sha256: and the first 8 hex digits, so two keys can be told apart without showing either."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def key_type(key):
    if key.startswith("sk-sp-"):
        return TOKEN_PLAN
    if key.startswith("sk-"):
        return STANDARD
    return UNKNOWN


def is_placeholder(value):
    """True for values that were never meant to be a key: our own placeholder and common stand-ins."""
    stripped = value.strip().strip("\"'`")
    if not stripped or stripped == PLACEHOLDER:
        return True
    if _REPEATED.match(stripped) or _PLACEHOLDER_MARKS.search(stripped):
        return True
    if len(_CJK_IDEOGRAPHS.findall(stripped)) >= 2:
        return True
    body = re.sub(r"^(sk-sp-|sk-)", "", stripped, flags=re.IGNORECASE)
    if len(body) < 8 or 2 * sum(len(run) for run in _X_RUNS.findall(body)) >= len(body):
        return True
    # "#" too: in "sk-your-key-here#todo" the comment is glued to the value (no blank before it).
    words = [word for word in re.split(r"[-_ .#]+", body.lower()) if word]
    return bool(words) and all(word in _PLACEHOLDER_VOCABULARY for word in words)


def _strip_quotes(value):
    for pair in _QUOTES:
        opening, closing = (pair, pair) if len(pair) == 1 else (pair[0], pair[1])
        if len(value) >= 2 and value.startswith(opening) and value.endswith(closing):
            return value[1:-1], True
    return value, False


def _repair(raw):
    """Undo the usual paste mistakes; returns (value, list of repair codes)."""
    repairs = []
    value = raw
    for _ in range(3):
        before = value
        stripped = value.strip()
        if stripped != value:
            removed = value[:len(value) - len(value.lstrip())] + value[len(value.rstrip()):]
            repairs.append("surrounding_newline" if ("\n" in removed or "\r" in removed)
                           else "surrounding_whitespace")
            value = stripped
        value, unquoted = _strip_quotes(value)
        if unquoted:
            repairs.append("surrounding_quotes")
        if _BEARER.match(value):
            repairs.append("bearer_prefix")
            value = _BEARER.sub("", value, count=1)
        if value == before:
            break
    return value, list(dict.fromkeys(repairs))


def _invalid_reason(value):
    if re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE) or _HOST_LIKE.match(value):
        return "looks_like_url", "the value is a URL, not an API key"
    if re.match(r"^(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=", value):
        return "looks_like_assignment", "the value is a whole NAME=value line; keep only the key"
    if value[:1] in _QUOTE_CHARACTERS or value[-1:] in _QUOTE_CHARACTERS:
        return "unbalanced_quote", "the key has a quote at one end only"
    for char in value:
        if char.isspace() and char.isascii():
            return "inner_whitespace", "the key contains a space or line break inside it"
    for char in value:
        if ord(char) < 32 or ord(char) == 127:
            return "control_character", "the key contains a control character"
    for char in value:
        if not char.isascii():
            name = unicodedata.name(char, "U+{:04X}".format(ord(char)))
            if unicodedata.category(char) in ("Zs", "Zl", "Zp"):
                return "inner_whitespace", "the key contains a space inside it ({})".format(name)
            if unicodedata.category(char) == "Cf":
                return "invisible_character", "the key contains an invisible character ({})".format(name)
            if unicodedata.east_asian_width(char) in ("F", "W"):
                return "fullwidth_character", ("the key contains a full-width character ({}), "
                                               "often from a Chinese input method".format(name))
            return "non_ascii_character", "the key contains a non-ASCII character ({})".format(name)
    return None


def check_key(raw):
    """Run every local check on a raw value as found in the environment or a .env file."""
    if raw is None or not raw.strip():
        return KeyCheck(cleaned="", problems=["empty"])
    if is_placeholder(raw):
        return KeyCheck(cleaned="", placeholder=True, problems=["placeholder"])
    value, repairs = _repair(raw)
    result = KeyCheck(cleaned=value, repairs=repairs, problems=list(repairs))
    if not value or is_placeholder(value):
        result.cleaned, result.placeholder = "", True
        result.problems.append("placeholder")
        return result
    invalid = _invalid_reason(value)
    if invalid:
        code, reason = invalid
        result.problems.append(code)
        result.invalid_reason = reason
    result.key_type = key_type(value)
    if result.key_type == UNKNOWN:
        result.problems.append("unknown_prefix")
    elif result.key_type == TOKEN_PLAN:
        result.problems.append("token_plan_key")
    return result
