"""Stage one of a verify run: find the key and the endpoint, and send the first request at once.

Everything else verify.py needs (verdicts, the result, the report, evidence, the .env exposure
check) is loaded and built while that request travels, so a slow network hides our own start-up.
This module imports only what sending needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import endpoints, keys
from .credentials import ConfigChain, Resolution, Setting
from .probe import Pending, Request, start_all

CHAT_MODEL = "qwen-turbo"


@dataclass
class Options:
    base_url: str | None = None
    region: str | None = None
    probe: str = "auto"            # auto: free probe, chat if it does not exist; chat: chat only
    model: str = CHAT_MODEL
    timeout: float = 10.0
    region_scan: bool = True
    check_token_plan: bool = False
    environ: Mapping[str, str] | None = None
    cwd: str | None = None


@dataclass
class Launch:
    """What stage one found. `pending` is the first request, already under way, or None."""
    started: float
    deadline: float
    cwd_missing: bool = False
    chain: ConfigChain | None = None
    resolution: Resolution = field(default_factory=Resolution)
    check: keys.KeyCheck | None = None
    base_setting: Setting | None = None
    endpoint: endpoints.Endpoint | None = None
    chosen_by: str | None = None
    endpoint_error: str | None = None
    first_request: Request | None = field(default=None, repr=False)
    pending: Pending | None = field(default=None, repr=False)


def headers(key):
    return {"Authorization": "Bearer " + key, "Accept": "application/json",
            "User-Agent": "qianwen-ops-auth-verify"}


def free_request(url, key):
    return Request("GET", url, headers(key))


def launch(options: Options, secrets: list) -> Launch:
    """Resolve the key and endpoint; when the token-free probe is the first step, start it now."""
    started = time.monotonic()
    state = Launch(started, started + options.timeout)
    try:
        cwd = options.cwd or os.getcwd()
    except OSError:
        state.cwd_missing = True
        return state
    state.chain = ConfigChain(options.environ, cwd)
    state.resolution = state.chain.resolve()
    found = state.resolution.found
    state.check = keys.check_key(found.value) if found is not None else None
    # The cleaned values: the raw ones may carry "Bearer " or quotes, which are no secret and must
    # stay readable in hints.
    for setting in ([found] if found else []) + state.resolution.shadowed:
        seen = keys.check_key(setting.value)
        if not seen.placeholder:  # a placeholder is no secret; masking it would garble every hint
            secrets.append(seen.cleaned or setting.value.strip())
    state.base_setting = state.chain.lookup("QWEN_BASE_URL")
    try:
        state.endpoint, state.chosen_by = endpoints.choose_endpoint(
            options.base_url, state.base_setting.value if state.base_setting else None, options.region)
    except endpoints.EndpointError as error:
        state.endpoint_error = str(error)
        return state
    check = state.check
    if (check is not None and check.sendable and check.key_type != keys.TOKEN_PLAN
            and options.probe == "auto"):
        state.first_request = free_request(state.endpoint.free_probe_url(), check.cleaned)
        state.pending = start_all([state.first_request], state.deadline, secrets)
    return state
