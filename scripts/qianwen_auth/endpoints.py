"""Regions, base-URL normalisation and refusal, and the probe URLs derived from a base.

A base URL may be a host root, a .../compatible-mode/v1 base or a .../api/v1 base, with or without
a trailing slash, behind a gateway path prefix or not. Plain http is refused except on loopback:
the key would cross the network in clear text.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from .regions import DEFAULT_REGION, REGION_HOSTS

COMPATIBLE = "compatible"   # .../compatible-mode/v1
NATIVE = "native"           # .../api/v1
ROOT = "root"               # the host, or a gateway prefix in front of both

_SUFFIXES = (("/compatible-mode/v1", COMPATIBLE), ("/api/v1", NATIVE))


class EndpointError(ValueError):
    """A base URL we refuse to send a key to; the message says why and what to do."""


@dataclass(frozen=True)
class Endpoint:
    origin: str                 # scheme://host[:port]
    prefix: str = ""            # gateway path in front of /compatible-mode/v1 or /api/v1
    form: str = ROOT
    region: str = DEFAULT_REGION  # cn / intl / us / hk, or "custom"

    @property
    def official(self):
        return self.region != "custom"

    @property
    def host(self):
        return urlsplit(self.origin).hostname or ""

    @property
    def base_url(self):
        """The base URL as the family's scripts expect it in QWEN_BASE_URL."""
        suffix = "/api/v1" if self.form == NATIVE else "/compatible-mode/v1"
        return self.origin + self.prefix + suffix

    def native_models_url(self):
        return self.origin + self.prefix + "/api/v1/models?page_no=1&page_size=1"

    def compatible_models_url(self):
        return self.origin + self.prefix + "/compatible-mode/v1/models"

    def chat_url(self):
        return self.origin + self.prefix + "/compatible-mode/v1/chat/completions"

    def free_probe_url(self):
        """Token-free probe: the native model list, or on a custom compatible-only base, /models."""
        if self.form == COMPATIBLE and not self.official:
            return self.compatible_models_url()
        return self.native_models_url()


def official_endpoint(region):
    return Endpoint("https://" + REGION_HOSTS[region], "", ROOT, region)


def region_of_host(host):
    for region, official_host in REGION_HOSTS.items():
        if host == official_host:
            return region
    return None


def is_loopback(host):
    # Only the name itself: "x.localhost" is resolved through DNS here and may point anywhere.
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_base_url(raw):
    """Turn a configured base URL into an Endpoint, or raise EndpointError."""
    text = (raw or "").strip()
    if not text:
        raise EndpointError("the base URL is empty")
    if any(ord(char) < 33 or ord(char) > 126 for char in text):
        raise EndpointError("the base URL contains spaces, control or non-ASCII characters")
    if "://" not in text:
        raise EndpointError("the base URL has no scheme; write it as https://host/compatible-mode/v1")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise EndpointError("the base URL cannot be parsed ({})".format(error)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise EndpointError("the base URL scheme {!r} is not http or https".format(parts.scheme))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise EndpointError("the base URL contains a user name or password; remove them")
    host = (parts.hostname or "").lower()
    if not host:
        raise EndpointError("the base URL has no host")
    if port == 0:
        raise EndpointError("the base URL names port 0, which nothing can listen on")
    if scheme == "http" and not is_loopback(host):
        raise EndpointError("plain http:// to {} would send the key in clear text; use https://".format(host))
    if parts.query or parts.fragment:
        raise EndpointError("the base URL has a query string or fragment; remove it")
    netloc = "[{}]".format(host) if ":" in host else host
    origin = "{}://{}{}".format(scheme, netloc, ":{}".format(port) if port else "")
    path = parts.path.rstrip("/")
    for suffix, _ in _SUFFIXES:
        position = path.lower().find(suffix + "/")
        if position >= 0:
            raise EndpointError("the base URL ends with an API path ({}); set the base only, e.g. "
                                "{}://{}{}".format(path[position + len(suffix):], scheme, parts.netloc,
                                                    path[:position + len(suffix)]))
    form = ROOT
    for suffix, suffix_form in _SUFFIXES:
        if path.lower().endswith(suffix):
            path, form = path[:-len(suffix)], suffix_form
            break
    region = region_of_host(host) if scheme == "https" and port in (None, 443) and not path else None
    return Endpoint(origin, path, form, region or "custom")


def choose_endpoint(cli_base_url: str | None, env_base_url: str | None, region: str | None):
    """--base-url > QWEN_BASE_URL > --region > cn. Returns (Endpoint, where it came from)."""
    if cli_base_url:
        return parse_base_url(cli_base_url), "--base-url"
    if env_base_url is not None and env_base_url.strip():
        return parse_base_url(env_base_url), "QWEN_BASE_URL"
    if region:
        return official_endpoint(region), "--region"
    return official_endpoint(DEFAULT_REGION), "default"
