#!/usr/bin/env python3
"""Find, check and prove the QianWen / DashScope API key, without spending tokens or showing it."""

import argparse

from qianwen_auth import VERSION
from qianwen_auth.cli import Parser
from qianwen_auth.regions import REGION_HOSTS

INTERNAL_ERROR_EXIT = 70  # a bug of ours: one redacted line, never a traceback

EPILOG = """examples:
  python3 scripts/verify.py                   check the key the family's scripts will use
  python3 scripts/verify.py --json            one JSON object for agents
  python3 scripts/verify.py --region intl     probe the International (Singapore) endpoint
  python3 scripts/verify.py --check-token-plan   also test an sk-sp- key on the Token Plan endpoints
  python3 scripts/verify.py --oss-only        check only the custom OSS upload bucket (QWEN_TMP_OSS_*)

exit codes: 0 valid, 1 invalid_key / wrong_region / token_plan_key / access_denied,
  2 config_error, 3 not_configured, 4 unreachable, 5 api_error, 6 the OSS check failed
  (--oss: only when the key check passed; --oss-only: anything but ok or not_configured), 70 internal error.
The key is read from QIANWEN_API_KEY, DASHSCOPE_API_KEY, ./.env, then the repository root's .env;
it is never printed, and never read from the command line."""


def build_parser(argv=None):
    parser = Parser(
        prog="verify.py", argv=argv,
        description="Find the QianWen/DashScope API key the way the skill family does, check it "
                    "locally, and prove it against the API with a token-free request.",
        epilog=EPILOG)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--region", choices=sorted(REGION_HOSTS),
                        help="official region to probe when no base URL is set (default: cn)")
    parser.add_argument("--base-url", metavar="URL",
                        help="endpoint to probe; overrides QWEN_BASE_URL and --region")
    parser.add_argument("--probe", choices=("auto", "chat"), default="auto",
                        help="auto: token-free model list (chat only where it does not exist); "
                             "chat: a 1-token chat completion, which may bill a few tokens")
    parser.add_argument("--model", default="qwen-turbo", help="model for the chat probe (default: qwen-turbo)")
    parser.add_argument("--timeout", type=_positive_seconds, default=10.0, metavar="SECONDS",
                        help="bound for the whole run (default: 10)")
    parser.add_argument("--no-region-scan", dest="region_scan", action="store_false",
                        help="on a 401, do not try the other official regions")
    parser.add_argument("--check-token-plan", action="store_true",
                        help="send an sk-sp- key to the Token Plan endpoints to see if it works there")
    oss = parser.add_mutually_exclusive_group()
    oss.add_argument("--oss", action="store_true",
                     help="also check the custom OSS upload bucket (put, get, delete a tiny object)")
    oss.add_argument("--oss-only", action="store_true", help="check only the custom OSS upload bucket")
    parser.add_argument("--no-save", action="store_true", help="do not save the JSON result")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="where to save the result (default: ./output/qianwen-ops-auth/)")
    parser.add_argument("--version", action="version", version="%(prog)s " + VERSION)
    return parser


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds, got {!r}".format(text)) from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("expected seconds between 0 and 600, got {}".format(text))
    return value


def main(argv=None):
    args = build_parser(argv).parse_args(argv)
    _import_http_in_background()
    from qianwen_auth.report import Reporter
    reporter = Reporter()
    try:
        return run(args, reporter)
    except KeyboardInterrupt:
        return _stopped(args, reporter, "interrupted", 130, "verify.py: interrupted")
    except Exception as error:  # never a traceback for the user; one redacted line instead
        return _stopped(args, reporter, "internal_error", INTERNAL_ERROR_EXIT,
                        "verify.py: internal error: {}: {}".format(type(error).__name__, error))
    finally:
        reporter.flush()


def _import_http_in_background():
    """urllib.request (with http.client, ssl and email) is the slowest import of a run and is needed
    for the first request; loading it beside .env parsing and the key checks shortens the time to
    verdict (make bench) without delaying --help, which exits before this."""
    import threading
    threading.Thread(target=__import__, args=("urllib.request",), daemon=True).start()


def _stopped(args, reporter, status, code, message):
    """A run that ended early still says so, and under --json as the one JSON object."""
    reporter.error(message)
    if args.json:
        reporter.json({"version": VERSION, "status": status, "ok": False, "exit_code": code, "hint": message})
    return code


def run(args, reporter):
    from qianwen_auth.launch import Options, launch

    options = Options(base_url=args.base_url, region=args.region, probe=args.probe, model=args.model,
                      timeout=args.timeout, region_scan=args.region_scan,
                      check_token_plan=args.check_token_plan)
    oss = _start_oss_check(args, options, reporter)
    if args.oss_only:
        return _report_oss_only(args, oss.result(), reporter)
    # The first request leaves before the rest of the package loads: it loads while the request travels.
    started = launch(options, reporter.secrets)
    from qianwen_auth import evidence
    from qianwen_auth.report import render_verify_text
    from qianwen_auth.verification import verify
    result = verify(options, secrets=reporter.secrets, started=started)
    oss_result = oss.result() if oss else None
    if not args.no_save:
        folder = args.output_dir or evidence.default_dir()
        result.evidence, result.evidence_skipped = evidence.save_json(_json(result, oss_result), folder,
                                                                         secrets=reporter.secrets)
        if result.evidence_skipped:
            result.warnings.append("result " + result.evidence_skipped)
    data = _json(result, oss_result)
    for warning in result.warnings:
        reporter.warn(warning)
    if args.json:
        reporter.json(data)
    else:
        render_verify_text(result, reporter)
        for line in oss_result.lines() if oss_result else ():
            reporter.line(line)
        if data["exit_code"] != result.exit_code:
            reporter.line("Exit:      {} (the OSS check failed)".format(data["exit_code"]))
    return data["exit_code"]


def _json(result, oss_result):
    if oss_result is None:
        return result.to_json()
    from qianwen_auth.oss_check import add_to_json
    return add_to_json(result.to_json(), oss_result, result.exit_code)


def _start_oss_check(args, options, reporter):
    """The OSS check runs beside the key check (one --timeout bounds both); None without --oss."""
    if not (args.oss or args.oss_only):
        return None
    from qianwen_auth.credentials import ConfigChain
    from qianwen_auth.oss_check import BackgroundCheck
    check = BackgroundCheck(ConfigChain(options.environ, options.cwd), options.timeout)
    reporter.secrets.extend(check.secrets)
    return check


def _report_oss_only(args, oss_result, reporter):
    from qianwen_auth import VERSION, evidence
    from qianwen_auth.oss_check import add_to_json
    # No key verdict here: the top-level status is the OSS one, prefixed so that no agent mistakes
    # "oss_unreachable" (exit 6) for the key check's "unreachable" (exit 4).
    data = add_to_json({"version": VERSION, "status": "oss_" + oss_result.status, "ok": oss_result.ok},
                       oss_result, None, oss_only=True)
    if not args.no_save:
        saved, skipped = evidence.save_json(data, args.output_dir or evidence.default_dir(),
                                            secrets=reporter.secrets)
        data["evidence"] = saved
        if skipped:
            reporter.warn("result " + skipped)
    if args.json:
        reporter.json(data)
    else:
        for line in oss_result.lines():
            reporter.line(line)
        reporter.line("Status:    {} (exit {})".format(data["status"], data["exit_code"]))
        if data.get("evidence"):
            reporter.line("Saved:     " + data["evidence"])
    return data["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())
