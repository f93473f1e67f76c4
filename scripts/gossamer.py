#!/usr/bin/env python3
"""Record or query the user's answer to the update-check reminder, shared with the QianWen skill family.

The family's skills offer three choices when the qianwen-update-check skill is missing: install now,
skip for now, never remind me. This script saves the answer where the other skills read it, and tells
an agent whether it may offer the choices now. It never prompts and never reads or prints a key.
"""

import argparse
import sys
from pathlib import Path

from qianwen_auth import VERSION, update_state
from qianwen_auth.cli import Parser
from qianwen_auth.report import Reporter

PROG = "gossamer.py"

EPILOG = """\
examples:
  python3 scripts/gossamer.py --should-prompt    may the agent offer the three choices now?
  python3 scripts/gossamer.py --dismiss          user chose "install now" or "skip for now"
  python3 scripts/gossamer.py --never-install    user chose "never remind me"
  python3 scripts/gossamer.py --status --json    everything as one JSON object

exit codes:
  0  done; with --should-prompt: offer the three choices now
  1  with --should-prompt: do not offer them (the reason is on stdout);
     otherwise the state could not be saved or has no place to go (the reason is on stderr)
  2  usage error

The state lives in <root>/.agents/state.json, root being the nearest folder above this skill that
holds a .agents/ folder, else in ~/.agents/state.json. QIANWEN_NO_UPDATE_PROMPT=1 makes
--should-prompt answer 1.
"""

SHORT_HELP = ("Records the answer to the update-check reminder (--dismiss, --never-install, --reset) and "
              "says whether to offer it (--should-prompt, --status). Run with --help for details.\n")

WRITE_HINT = "Pass --state-file PATH to keep the choice in a writable place outside the skill."


def build_parser(argv=()):
    parser = Parser(
        prog=PROG, epilog=EPILOG, argv=list(argv), error_status="usage_error", message_field="error",
        description="Save the user's answer to the update-check reminder where every QianWen skill "
                    "reads it (24 hours of quiet, or never again), and tell an agent whether it may "
                    "offer the three choices now.")
    parser.add_argument("--dismiss", action="store_true",
                        help='record "install now" or "skip for now": quiet for 24 hours')
    parser.add_argument("--never-install", action="store_true",
                        help='record "never remind me" (wins over --dismiss)')
    parser.add_argument("--reset", action="store_true",
                        help="forget both choices, keep everything else in the state file")
    query = parser.add_mutually_exclusive_group()
    query.add_argument("--status", action="store_true", help="print the state and the decision")
    query.add_argument("--should-prompt", action="store_true",
                       help="exit 0 if the agent may offer the three choices now, 1 if not")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with the state and the decision")
    parser.add_argument("--state-file", metavar="PATH", type=_state_file_argument,
                        help="use this state file instead of the shared one")
    parser.add_argument("--version", action="version", version="%(prog)s " + VERSION)
    return parser


def _state_file_argument(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return Path(text)


class Warnings:
    """Prints each warning once, however many reads meet the same bad file."""

    def __init__(self, output):
        self.output = output
        self.seen = []

    def add(self, messages):
        for message in messages:
            if message not in self.seen:
                self.seen.append(message)
                self.output.error("{}: warning: {}".format(PROG, message))


def fail(output, args, message, state_file=None, code=1, status="error"):
    """Report a failure on stderr and, with --json, as the one object on stdout; returns code."""
    output.error("{}: {}".format(PROG, message))
    if args is not None and args.json:
        output.json({"version": VERSION, "status": status, "ok": False, "exit_code": code,
                     "state_file": str(state_file) if state_file else None, "error": message})
    return code


def save_choice(output, args, state_file, warnings):
    """Apply the write flags; returns an exit code, or None when the run goes on."""
    try:
        if args.never_install:
            before, _ = update_state.record_never_install(state_file)
            message = "Update-check reminder turned off for good (saved in {}); undo with --reset."
        elif args.dismiss:
            before, _ = update_state.record_dismissal(state_file)
            message = "Update-check reminder quiet for 24 hours (saved in {})."
            if before.never_install:
                message = ("Answer recorded (saved in {}); the user chose never to be reminded earlier, so "
                           "no reminder comes anyway (--reset undoes that).")
        else:
            before, saved = update_state.forget_choices(state_file)
            message = ("Update-check reminder choices forgotten (saved in {})." if saved else
                       "No update-check reminder choice recorded in {}; nothing to forget.")
    except update_state.StateWriteError as error:
        return fail(output, args, "{}. {}".format(error, WRITE_HINT), state_file)
    warnings.add(before.warnings)
    output.error(message.format(state_file))
    return None


def describe(state_file, warnings):
    """The state and the decision as a plain dict (the --json object)."""
    state = update_state.read_state(state_file)
    warnings.add(state.warnings)
    update_check = update_state.find_update_check()
    decision = update_state.decide(state, update_check)
    until = decision.quiet_until
    last = state.last_interaction
    return {
        "state_file": str(state_file),
        "never_install": state.never_install,
        "last_interaction": last,
        "quiet_until": update_state.iso_time(until) if until is not None else None,
        "update_check_installed": update_check is not None,
        "update_check_path": str(update_check) if update_check is not None else None,
        "should_prompt": decision.should_prompt,
        "reason_code": decision.reason_code,
        "reason": decision.reason,
        "warnings": list(warnings.seen),
    }


def render_status(report):
    def yes_no(value):
        return "yes" if value else "no"
    last = report["last_interaction"]
    lines = [
        "state_file: {}".format(report["state_file"]),
        "never_install: {}".format(yes_no(report["never_install"])),
        "last_interaction: {}".format(update_state.iso_time(last) if last is not None else "none"),
        "quiet_until: {}".format(report["quiet_until"] or "none"),
        "update_check_installed: {}".format(
            "yes ({})".format(report["update_check_path"]) if report["update_check_installed"] else "no"),
        "should_prompt: {} ({})".format(yes_no(report["should_prompt"]), report["reason"]),
    ]
    return "\n".join(lines)


def run(output, args):
    try:
        state_file = args.state_file or update_state.default_state_file()
    except update_state.NoStateLocation as error:
        return fail(output, args, "{}. Pass --state-file PATH to say where.".format(error))
    warnings = Warnings(output)
    if args.dismiss or args.never_install or args.reset:
        code = save_choice(output, args, state_file, warnings)
        if code is not None:
            return code
    if not (args.status or args.should_prompt or args.json):
        return 0
    report = describe(state_file, warnings)
    if args.json:
        output.json(report)
    elif args.status:
        output.line(render_status(report))
    else:
        output.line("{}: {}".format("yes" if report["should_prompt"] else "no", report["reason"]))
    if args.should_prompt and not report["should_prompt"]:
        return 1
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    if not argv:
        # Harmless when run by mistake: say what it is, change nothing.
        sys.stdout.write(parser.format_usage() + SHORT_HELP)
        return 0
    args = parser.parse_args(argv)
    if args.reset and (args.dismiss or args.never_install):
        parser.error("--reset cannot be combined with --dismiss or --never-install")
    output = Reporter()  # redacts, and never raises on a closed or broken stream
    try:
        return run(output, args)
    except KeyboardInterrupt:
        return fail(output, args, "interrupted", code=130, status="interrupted")
    except Exception as error:  # the last line of defence: one redacted line, never a traceback
        return fail(output, args, "unexpected error: {}: {}".format(type(error).__name__, error))
    finally:
        output.flush()


if __name__ == "__main__":
    raise SystemExit(main())
