"""The main job of verify.py: find the key, check it locally, prove it against the API, decide.

Builds a plain Result as the checks run; report.py renders it once at the end. The key itself
stays in `KeyCheck.cleaned` and the request headers, nowhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import endpoints, keys, regions, verdict
from .fsutil import script_command
from .launch import Launch, Options, free_request, launch
from .launch import headers as launch_headers
from .probe import Request, send, send_all
from .redact import redact, redact_url
from .result import KeyReport, ProbeReport, Result

CONSOLE_KEYS_URL = "https://platform.qianwenai.com/home/api-keys"
REPAIR_WORDS = {"surrounding_whitespace": "spaces around the key",
                "surrounding_newline": "a line break around the key",
                "surrounding_quotes": "quotes around the key",
                "bearer_prefix": 'a leading "Bearer "'}


@dataclass
class _Run:
    options: Options
    deadline: float
    secrets: list[str] = field(default_factory=list, repr=False)

    def redact(self, text):
        return redact(text, self.secrets)


def _chat_request(endpoint, key, model):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": 1}).encode("ascii")
    headers = dict(launch_headers(key), **{"Content-Type": "application/json"})
    return Request("POST", endpoint.chat_url(), headers, body)


def _probe_report(exchange, outcome, url=None):
    """url: the URL as we built it (our probe queries hold no secret); exchange.url has no query."""
    return ProbeReport(method=exchange.method, url=redact_url(url or exchange.url, keep_query=True),
                       http_status=exchange.status,
                       error_code=outcome.error_code, request_id=outcome.request_id,
                       elapsed_ms=exchange.elapsed_ms)


def _key_report(resolution, check):
    found = resolution.found
    report = KeyReport(set=found is not None)
    if found is not None:
        report.source = found.source
        report.where = found.where
    if check is not None:
        report.type = check.key_type
        report.fingerprint = check.fingerprint
        report.problems = list(check.problems)
        report.repairs = list(check.repairs)
    report.shadowed = [setting.source for setting in resolution.shadowed]
    if resolution.hidden_by_empty:
        report.problems.append("empty_variable_hides_dotenv")
    return report


def verify(options: Options, secrets: list[str] | None = None, started: Launch | None = None) -> Result:
    """Run every check. `secrets` (if given) receives the key values seen, for the reporter's
    last-line redaction; they never enter the Result. `started` is stage one (launch.launch) when
    the caller already ran it, so that the first request is under way while this module loads."""
    secrets = secrets if secrets is not None else []
    state = started or launch(options, secrets)
    run = _Run(options, state.deadline, secrets)
    if state.cwd_missing:
        return Result().finish("config_error", "the current folder was deleted or cannot be read: "
                                               "cd into the project folder and run again")
    chain, resolution, check = state.chain, state.resolution, state.check
    found = resolution.found
    result = Result(key=_key_report(resolution, check))
    result.warn(run.redact(warning) for warning in resolution.warnings)
    for setting in resolution.shadowed:
        result.notes.append("a different key in {} is shadowed by the one used".format(setting.where))
    if found is not None:
        for hidden in resolution.hidden_by_empty:
            result.notes.append("{} is exported but empty and hides the value in {} line {}; other tools "
                                "may read that one: unset it".format(hidden.name, hidden.path, hidden.line))

    if found is not None and found.path is not None and not check.placeholder:
        from .exposure import dotenv_exposure
        for code, message in dotenv_exposure(found.path, options.cwd, deadline=state.deadline):
            result.key.problems.append(code)
            result.warnings.append(message)

    base_setting, endpoint, chosen_by = state.base_setting, state.endpoint, state.chosen_by
    result.warn(run.redact(warning) for warning in chain.warnings)
    if state.endpoint_error:
        origin = "--base-url" if options.base_url else (base_setting.where if base_setting else "base URL")
        return result.finish("config_error", "{} is refused: {}".format(origin, run.redact(state.endpoint_error)))
    result.endpoint = endpoint.base_url
    result.endpoint_region = endpoint.region
    result.endpoint_source = base_setting.source if chosen_by == "QWEN_BASE_URL" else chosen_by
    result.region = endpoint.region

    if found is None:
        return result.finish("not_configured", _not_configured_hint(resolution))
    if check.placeholder:
        return result.finish("not_configured", "{} still holds a placeholder: replace it with your key from {}"
                             .format(found.where, CONSOLE_KEYS_URL))
    if check.invalid_reason:
        return result.finish("invalid_key", "{} is malformed: {}. Copy the key again from {}".format(
            found.where, check.invalid_reason, CONSOLE_KEYS_URL))
    if check.repairs:
        result.notes.append("repaired for the probe: {}; fix {} so every tool reads it".format(
            ", ".join(REPAIR_WORDS.get(code, code) for code in check.repairs), found.where))
    if check.key_type == keys.TOKEN_PLAN:
        return _token_plan(run, result, check, found)
    if check.key_type == keys.UNKNOWN:
        result.warnings.append("the key does not start with sk-; DashScope keys do. Probing anyway")
    return _probe_key(run, result, endpoint, check.cleaned, state)


def _not_configured_hint(resolution):
    if resolution.hidden_by_empty:
        hidden = resolution.hidden_by_empty[0]
        return ("{name} is exported but empty and hides the key in {path} line {line}: "
                "run `unset {name}` (and remove the empty export from your shell profile)").format(
                    name=hidden.name, path=hidden.path, line=hidden.line)
    return ("no API key found in QIANWEN_API_KEY, DASHSCOPE_API_KEY or .env: run `{}`, then put "
            "your key from {} into .env yourself").format(script_command("init_env.py"), CONSOLE_KEYS_URL)


def _token_plan(run, result, check, found):
    result.token_plan.checked = run.options.check_token_plan
    hint = ("{} holds a Token Plan (sk-sp-) key, which works only in interactive AI tools. "
            "Create a standard pay-as-you-go key at {} and set DASHSCOPE_API_KEY to it").format(
                found.where, CONSOLE_KEYS_URL)
    if not run.options.check_token_plan:
        return result.finish("token_plan_key", hint)
    plans = list(regions.TOKEN_PLAN_HOSTS)
    requests = [free_request("https://{}/compatible-mode/v1/models".format(regions.TOKEN_PLAN_HOSTS[plan]),
                              check.cleaned) for plan in plans]
    for region, request, exchange in zip(plans, requests, send_all(requests, run.deadline, run.secrets)):
        outcome = verdict.classify(exchange, redact_text=run.redact)
        result.probes.append(_probe_report(exchange, outcome, request.url))
        if outcome.kind == verdict.ACCEPTED and not result.token_plan.accepted:
            result.token_plan.accepted, result.token_plan.region = True, region
    if result.token_plan.accepted is None:
        result.token_plan.accepted = False
    state = ("a Token Plan endpoint ({}) accepted it".format(result.token_plan.region)
             if result.token_plan.accepted else "no Token Plan endpoint accepted it")
    return result.finish("token_plan_key", "{}; {}".format(state, hint))


def _probe_key(run, result, endpoint, key, state):
    options = run.options
    if options.probe == "chat":
        exchange, outcome = _send_chat(run, result, endpoint, key)
    else:
        request = state.first_request or free_request(endpoint.free_probe_url(), key)
        exchange = (state.pending.result()[0] if state.pending is not None
                    else send(request, run.deadline, run.secrets))
        outcome = verdict.classify(exchange, redact_text=run.redact)
        result.probe = _probe_report(exchange, outcome, request.url)
        result.probes.append(result.probe)
        if outcome.kind == verdict.MISSING:
            result.notes.append("the token-free probe does not exist at {}; used the chat probe, "
                                "which may bill a few tokens".format(endpoint.origin + endpoint.prefix))
            exchange, outcome = _send_chat(run, result, endpoint, key)
    if outcome.kind == verdict.REJECTED and endpoint.official and options.region_scan:
        return _scan_regions(run, result, endpoint, key, outcome)
    return _finish_outcome(result, endpoint, outcome, options=options)


def _send_chat(run, result, endpoint, key):
    request = _chat_request(endpoint, key, run.options.model)
    exchange = send(request, run.deadline, run.secrets)
    outcome = verdict.classify(exchange, chat=True, redact_text=run.redact)
    result.probe = _probe_report(exchange, outcome, request.url)
    result.probes.append(result.probe)
    return exchange, outcome


def _scan_regions(run, result, endpoint, key, first_outcome):
    others = [region for region in regions.REGION_HOSTS if region != endpoint.region]
    requests = [free_request(endpoints.official_endpoint(r).native_models_url(), key) for r in others]
    accepted = None
    for region, request, exchange in zip(others, requests, send_all(requests, run.deadline, run.secrets)):
        outcome = verdict.classify(exchange, redact_text=run.redact)
        result.probes.append(_probe_report(exchange, outcome, request.url))
        if outcome.kind == verdict.ACCEPTED and accepted is None:
            accepted = region
    if accepted is None:
        return _finish_outcome(result, endpoint, first_outcome, scanned=True, options=run.options)
    suggested = endpoints.official_endpoint(accepted).base_url
    result.region = accepted
    result.suggested_base_url = suggested
    return result.finish("wrong_region", (
        "the key belongs to {} ({}), not {}: set QWEN_BASE_URL={} (or run with --region {})").format(
            regions.REGION_NAMES[accepted], accepted, endpoint.region, suggested, accepted))


def _finish_outcome(result, endpoint, outcome, scanned=False, options=None):
    where = endpoint.origin + endpoint.prefix
    result.problem_detail = outcome.message
    if outcome.kind == verdict.ACCEPTED:
        place = regions.REGION_NAMES.get(endpoint.region, where)
        return result.finish("valid", _valid_hint(result, place))
    if outcome.kind == verdict.REJECTED:
        return result.finish("invalid_key", _rejected_hint(result, endpoint, outcome, scanned, options))
    if outcome.kind == verdict.DENIED:
        return result.finish("access_denied", (
            "{} knows the key but denied access{}: check the workspace and model permissions of this "
            "key in the console ({})").format(where, _code(outcome), CONSOLE_KEYS_URL))
    if outcome.kind == verdict.UNREACHABLE:
        result.unreachable_reason = outcome.reason
        return result.finish("unreachable", "{} could not be reached ({}): {}".format(
            where, outcome.reason, verdict.UNREACHABLE_HINTS.get(outcome.reason, "check your network")))
    if outcome.kind == verdict.MISSING:
        outcome.reason = "unexpected_status"
    return result.finish("api_error", verdict.api_error_hint(outcome))


def _valid_hint(result, place):
    """A working key can still need a fix: a leaked or readable .env comes first, then a paste repair."""
    key = result.key
    if "dotenv_tracked_by_git" in key.problems:
        return ("the key works with {}, but {} is committed to git: treat the key as leaked, create a new "
                "one at {} and stop tracking the file (the warning shows the command)").format(
                    place, key.where, CONSOLE_KEYS_URL)
    if "dotenv_readable_by_others" in key.problems:
        from .exposure import fix_permissions_command
        return "the key works with {}, but others can read {}: run `{}`".format(
            place, key.where, fix_permissions_command(key.source[len("dotenv:"):]))
    if key.repairs:
        words = [REPAIR_WORDS.get(code, code) for code in key.repairs]
        listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        return "the key works with {}, but fix {}: remove {} so every tool reads the key as it is".format(
            place, key.where, listed)
    return "the key works with {}; nothing to do".format(place)


def _rejected_hint(result, endpoint, outcome, scanned, options):
    where = endpoint.origin + endpoint.prefix
    if result.key.shadowed:
        # A stale key that shadows another is the likeliest cause: say that first, and do not send
        # anyone off to compare regions with the stale key.
        how = "unset it (and remove it from your shell profile)" if result.key.source.startswith("env:") \
            else "remove the stale line"
        return ("{} rejected the key from {}{}, and {} holds a different key: if that one is current, {}"
                ).format(where, result.key.where, _code(outcome), result.key.shadowed[0], how)
    if scanned:
        said = "{} and every other official region rejected the key{}".format(where, _code(outcome))
    else:
        said = "{} rejected the key{}".format(where, _code(outcome))
        if not endpoint.official:
            said += (" (other regions were not tried: the base URL is not an official host; a gateway may "
                     "not forward the Authorization header, so compare with `verify.py --region cn`)")
        elif options is not None and not options.region_scan:
            said += " (other regions were not tried: --no-region-scan)"
    return "{}: it was deleted, disabled or mistyped. Create or copy a key at {}".format(said, CONSOLE_KEYS_URL)


def _code(outcome):
    return " ({})".format(outcome.error_code) if outcome.error_code else ""
