"""The custom OSS bucket settings: read through the same environment-then-.env chain as the API key,
checked locally before anything is sent.

QWEN_TMP_OSS_BUCKET turns custom OSS on; unset means uploads use DashScope's 48-hour temporary
storage. Credentials come from QWEN_TMP_OSS_AK_ID / QWEN_TMP_OSS_AK_SECRET, or, when neither is set,
from OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET. Half a pair is an error: falling back to the other
pair silently would test keys the user did not mean.
"""

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from typing import List, Optional
from urllib.parse import quote, urlsplit

from .endpoints import is_loopback
from .keys import fingerprint

BUCKET = "QWEN_TMP_OSS_BUCKET"
REGION = "QWEN_TMP_OSS_REGION"
ENDPOINT = "QWEN_TMP_OSS_ENDPOINT"
PREFIX = "QWEN_TMP_OSS_PREFIX"
DEDICATED_PAIR = ("QWEN_TMP_OSS_AK_ID", "QWEN_TMP_OSS_AK_SECRET")
GENERIC_PAIR = ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET")
DEFAULT_PREFIX = "qianwen-skill-uploads"
ALL_NAMES = (BUCKET, REGION, ENDPOINT, PREFIX) + DEDICATED_PAIR + GENERIC_PAIR

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_HOST_NAME = re.compile(r"^(?=.{1,253}\.?$)(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)\.?$")
_REGION_ID = re.compile(r"^[a-z]{2,}(?:-[a-z0-9]+)+$")
# oss-<region>[-internal].aliyuncs.com, and the region-less acceleration endpoints.
_OSS_HOST = re.compile(r"^(?:(?P<bucket>[a-z0-9][a-z0-9-]*)\.)?"
                       r"oss-(?P<region>[a-z0-9-]+?)(?P<internal>-internal)?\.aliyuncs\.com$")
_ACCELERATE = ("accelerate", "accelerate-overseas")
# Stand-ins seen in docs and templates. Real AccessKeys are long random letters and digits, so only
# marks that random text almost never holds count (not "contains xxx", which 1 secret in 1000 does).
_PLACEHOLDER_MARKS = re.compile(r"([<>{}*$]|\.\.\.|xxxx|XXXX|^(?i:your|my)[-_ ]|(?i:placeholder|changeme))")
_PLACEHOLDER_WORDS = {"your", "my", "the", "access", "key", "keyid", "id", "secret", "oss", "ak", "sk",
                      "here", "aliyun", "ram", "user", "accesskey", "accesskeyid", "accesskeysecret",
                      "example", "test", "dummy", "fake", "todo", "replace", "me", "value"}


@dataclass
class OssConfig:
    """Everything the check needs; the AccessKey pair lives only in the two repr-less fields."""
    configured: bool = False
    bucket: Optional[str] = None
    region: Optional[str] = None
    endpoint: Optional[str] = None      # scheme://host[:port] that requests go to, shown to the user
    endpoint_configured: bool = False   # set through QWEN_TMP_OSS_ENDPOINT, not built from the region
    virtual_host: bool = True           # False: a custom domain bound to the bucket, addressed /<key>
    prefix: str = DEFAULT_PREFIX
    access_key_id: str = field(default="", repr=False)
    access_key_secret: str = field(default="", repr=False)
    # Every AccessKey value found, used or not (half a pair, a rejected one, the ignored shared pair):
    # all of them are redacted from what leaves, whatever path the check takes.
    seen_credentials: List[str] = field(default_factory=list, repr=False)
    credentials_source: Optional[str] = None
    fingerprint: Optional[str] = None
    error: Optional[str] = None          # a configuration error, one sentence naming the variable
    hint: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def secrets(self):
        found = [self.access_key_id, self.access_key_secret] + self.seen_credentials
        return [value for index, value in enumerate(found) if value and value not in found[:index]]

    def object_url(self, key: str) -> str:
        return "{}/{}".format(self.endpoint, quote(key, safe="/-_.~"))


def normalise_region(raw: str):
    """cn-beijing stays; oss-cn-beijing and oss-cn-beijing-internal become cn-beijing.
    Returns (region, note or None)."""
    region = raw.strip().lower()
    original = region
    if region.startswith("oss-"):
        region = region[len("oss-"):]
    if region.endswith("-internal"):
        region = region[:-len("-internal")]
    if region.endswith(".aliyuncs.com"):
        return None, None
    note = None
    if region != original:
        note = "{}={} is the endpoint form; used the region id {} (signatures need it)".format(
            REGION, raw.strip(), region)
    return region, note


def _host_problem(host):
    """Why host cannot be an endpoint's host, or None. IP literals and DNS names only."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not _HOST_NAME.match(host):
        return "{} has a host name with characters no host name holds: {}".format(ENDPOINT, host)
    return None


def _parse_endpoint(raw: str, config: OssConfig):
    """Sets config.endpoint and config.virtual_host; returns an error sentence or None."""
    text = raw.strip()
    # Checked before urlsplit, which silently drops tabs and line breaks on newer Pythons.
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in text):
        return "{} contains a space or control character: set it to the host only, e.g. files.example.com".format(
            ENDPOINT)
    if not text.isascii():
        return ("{} contains non-ASCII characters: write an internationalised domain name in its xn-- "
                "(punycode) form".format(ENDPOINT))
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return "{} is not a valid URL".format(ENDPOINT)
    if parts.scheme not in ("http", "https"):
        return "{} must use https:// (got {}://)".format(ENDPOINT, parts.scheme)
    if parts.username is not None or parts.password is not None:
        return "{} must not contain a user name or password".format(ENDPOINT)
    if not host:
        return "{} has no host name".format(ENDPOINT)
    if parts.path.strip("/") or parts.query or parts.fragment:
        return "{} must be a host only (no path or query): the object path is added per upload".format(ENDPOINT)
    problem = _host_problem(host)
    if problem:
        return problem
    if parts.scheme == "http" and not is_loopback(host):
        return "{} uses plain http:// to {}: the signed requests would travel in clear text; use https://".format(
            ENDPOINT, host)
    shown_host = "[{}]".format(host) if ":" in host else host   # an IPv6 literal keeps its brackets
    netloc = shown_host if port is None else "{}:{}".format(shown_host, port)
    official = _OSS_HOST.match(host)
    if official is None:
        config.virtual_host = False
        config.endpoint = "{}://{}".format(parts.scheme, netloc)
        config.notes.append("{} is a custom domain: objects are addressed as /<key> on it".format(host))
        return None
    named_bucket = official.group("bucket")
    if named_bucket and named_bucket != config.bucket:
        return "{} names bucket {} but {} is {}".format(ENDPOINT, named_bucket, BUCKET, config.bucket)
    endpoint_region = official.group("region")
    if endpoint_region not in _ACCELERATE and endpoint_region != config.region:
        return "{} is in region {} but {} is {}: make them agree".format(
            ENDPOINT, endpoint_region, REGION, config.region)
    service_host = host.split(".", 1)[1] if named_bucket else host
    if named_bucket:
        config.notes.append("{} already holds the bucket name; used as is".format(ENDPOINT))
    config.virtual_host = True
    config.endpoint = "{}://{}.{}".format(parts.scheme, config.bucket,
                                          service_host if port is None else "{}:{}".format(service_host, port))
    return None


def _credential_problem(name: str, value: str) -> Optional[str]:
    words = [word for word in re.split(r"[-_ .]+", value.lower()) if word]
    if _PLACEHOLDER_MARKS.search(value) or len(value) < 8 or all(w in _PLACEHOLDER_WORDS for w in words):
        return "{} still holds a placeholder: set the real value".format(name)
    if any(char.isspace() or ord(char) < 32 or not char.isascii() for char in value):
        return "{} contains a space, control or non-ASCII character: copy it again from the RAM console".format(name)
    return None


def _read_credentials(chain, config: OssConfig):
    dedicated = [chain.lookup(name) for name in DEDICATED_PAIR]
    generic = [chain.lookup(name) for name in GENERIC_PAIR]
    if any(dedicated):
        pair, names = dedicated, DEDICATED_PAIR
        if any(generic):
            config.notes.append("{} / {} are set too and are ignored: the dedicated pair wins".format(*GENERIC_PAIR))
    elif any(generic):
        pair, names = generic, GENERIC_PAIR
        config.notes.append("{} / {} are not set; used the shared pair {} / {}".format(
            DEDICATED_PAIR[0], DEDICATED_PAIR[1], GENERIC_PAIR[0], GENERIC_PAIR[1]))
    else:
        return ("{} is set but no AccessKey pair is: set {} and {}".format(BUCKET, *DEDICATED_PAIR),
                "create a RAM user with only oss:PutObject and oss:GetObject on the bucket and put its AccessKey pair in .env")
    for setting, name, other in ((pair[0], names[0], names[1]), (pair[1], names[1], names[0])):
        if setting is None:
            return ("{} is set but {} is not: set both halves of the pair".format(other, name),
                    "add {} to .env next to {} (no fallback to another pair)".format(name, other))
    values = []
    for setting in pair:
        value = setting.value.strip()
        if value != setting.value:
            config.notes.append("{} has spaces or a line break around it; ignored them here, but remove them "
                                "(other tools may not)".format(setting.name))
        problem = _credential_problem(setting.name, value)
        if problem:
            return problem, None
        values.append(value)
    config.access_key_id, config.access_key_secret = values
    config.credentials_source = pair[0].source
    config.fingerprint = fingerprint(values[0])
    if pair[1].path != pair[0].path:
        config.notes.append("{} comes from {} and {} from {}".format(
            names[0], pair[0].source, names[1], pair[1].source))
    return None, None


def _collect_credentials(chain, config: OssConfig):
    for name in DEDICATED_PAIR + GENERIC_PAIR:
        setting = chain.lookup(name)
        # Shorter values cannot hold a 6-character piece and would only garble output when masked.
        for value in (setting.value, setting.value.strip()) if setting else ():
            if len(value) >= 6:
                config.seen_credentials.append(value)


def _note_hidden(chain, config: OssConfig):
    for name in ALL_NAMES:
        for hidden in chain.resolve((name,)).hidden_by_empty:
            config.notes.append("{} is exported but empty and hides the value in {} line {}: unset it".format(
                name, hidden.path, hidden.line))


def load_oss_config(chain) -> OssConfig:
    """Read and check the OSS settings; config.error is set when the check cannot run."""
    config = OssConfig()
    _collect_credentials(chain, config)
    _note_hidden(chain, config)
    bucket = chain.lookup(BUCKET)
    if bucket is None or not bucket.value.strip():
        return config
    config.configured = True
    config.bucket = bucket.value.strip()
    if not _BUCKET_NAME.match(config.bucket):
        config.error = "{} is not a bucket name (3-63 lowercase letters, digits and hyphens)".format(BUCKET)
        config.hint = "set {} to the bucket name only, e.g. my-uploads, not a URL or host".format(BUCKET)
        config.bucket = None
        return config
    region = chain.lookup(REGION)
    if region is None:
        config.error = "{} is set but {} is not".format(BUCKET, REGION)
        config.hint = "set {} to the bucket's region id, e.g. cn-beijing or ap-southeast-1".format(REGION)
        return config
    config.region, note = normalise_region(region.value)
    if config.region is None or not _REGION_ID.match(config.region):
        config.region = None
        config.error = "{} is not a region id".format(REGION)
        config.hint = "set {} to the bucket's region id, e.g. cn-beijing or ap-southeast-1".format(REGION)
        return config
    if note:
        config.notes.append(note)
    prefix = chain.lookup(PREFIX)
    if prefix is not None:
        value = prefix.value.strip().strip("/")
        if any(ord(char) < 32 for char in value) or "\\" in value or ".." in value.split("/"):
            config.error = "{} must be a plain folder path such as {}".format(PREFIX, DEFAULT_PREFIX)
            return config
        config.prefix = value or DEFAULT_PREFIX
    endpoint = chain.lookup(ENDPOINT)
    if endpoint is not None:
        config.endpoint_configured = True
        config.error = _parse_endpoint(endpoint.value, config)
        if config.error:
            config.endpoint = None
            return config
    else:
        config.endpoint = "https://{}.oss-{}.aliyuncs.com".format(config.bucket, config.region)
    config.error, config.hint = _read_credentials(chain, config)
    return config
