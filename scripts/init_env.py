#!/usr/bin/env python3
"""Prepare .env for a QianWen / DashScope API key without ever asking for the key."""

import os
import sys
import time
from pathlib import Path

from qianwen_auth import VERSION
from qianwen_auth.cli import Parser
from qianwen_auth.envsetup import (
    CONSOLE_URL, Failed, Refused, key_like_parts, key_like_path_parts, refuse_key_like_path,
)
from qianwen_auth.fsutil import Terminated, script_command, terminate_as_exception
from qianwen_auth.report import Reporter

MAX_STDIN_BYTES = 64 * 1024
STDIN_TIMEOUT = 10.0

EPILOG = """examples:
  python3 scripts/init_env.py                   add a placeholder to ./.env, ignore .env files in git
  python3 scripts/init_env.py --json            the same, one JSON object for agents
  python3 scripts/init_env.py --path app/.env --var QIANWEN_API_KEY
  pbpaste | python3 scripts/init_env.py --from-stdin    store the key you copied (never typed here)

exit codes: 0 done (created, appended, already_set, placeholder_present, written),
  1 a file could not be read or written (also the .gitignore), 2 usage error or refused
  (skills folder, symlinked .env, a key already set without --replace, a bad key on stdin).
The key is never read from the command line or a prompt, and never printed: only its type and
fingerprint. A symlinked .env is read for the report but never written through."""


def build_parser(argv=None):
    parser = Parser(
        prog="init_env.py", argv=argv, error_status="refused", message_field="message",
        description="Make sure .env has a line for the QianWen/DashScope API key (a placeholder the\n"
                    "user replaces in their editor), is owner-only, and is ignored by git.\n"
                    "Prints only masked status: where the key is, its type and fingerprint.",
        epilog=EPILOG)
    parser.add_argument("--path", default=".env", metavar="FILE", help="the .env file (default: ./.env)")
    parser.add_argument("--var", default="DASHSCOPE_API_KEY", choices=("DASHSCOPE_API_KEY", "QIANWEN_API_KEY"),
                        help="variable name for a new line (default: DASHSCOPE_API_KEY)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    parser.add_argument("--fix-permissions", action="store_true",
                        help="make an existing .env that group or others can read owner-only")
    parser.add_argument("--no-gitignore", action="store_true", help="leave .gitignore alone")
    parser.add_argument("--from-stdin", action="store_true",
                        help="write the real key, read from a pipe or file on standard input (never a terminal)")
    parser.add_argument("--replace", action="store_true", help="with --from-stdin: overwrite a key already set")
    parser.add_argument("--allow-token-plan", action="store_true",
                        help="with --from-stdin: accept an sk-sp- Token Plan key")
    parser.add_argument("--version", action="version", version="%(prog)s " + VERSION)
    return parser


class Output(Reporter):
    """Everything leaves through the shared reporter, redacted against the secrets this run has seen."""

    def remember(self, secret):
        # Values too short to be keys are refused anyway; masking them would garble every line.
        if len(secret) >= 8:
            self.secrets.append(secret)


def pipe_examples(cwd=None):
    command = script_command("init_env.py", cwd)
    return ("pbpaste | {} --from-stdin".format(command), "{} --from-stdin < keyfile".format(command))


def read_stdin_key(stream, timeout=STDIN_TIMEOUT, cwd=None):
    """The raw text on standard input; refuses a closed stream, a terminal (we never prompt), input
    that does not end within timeout seconds (a pipe nobody writes to would hang an agent), and
    non-text. A read error is Failed, never taken for the end of the input."""
    examples = "\n  ".join(pipe_examples(cwd))
    if stream is None:
        raise Refused("--from-stdin found standard input closed; copy the key from {} and pipe it in:"
                      "\n  {}".format(CONSOLE_URL, examples))
    if stream.isatty():
        raise Refused("--from-stdin reads the key from a pipe or a file, never from the terminal; "
                      "copy the key from {} and run one of:\n  {}".format(CONSOLE_URL, examples))
    data = _read_until_end(stream.fileno(), MAX_STDIN_BYTES + 1, timeout)
    if data is None:
        raise Refused("nothing ended on standard input within {:g} seconds; pipe the key in, for "
                      "example: {}".format(timeout, pipe_examples(cwd)[0]))
    if len(data) > MAX_STDIN_BYTES:
        raise Refused("standard input is larger than {} bytes; it does not hold just a key".format(
            MAX_STDIN_BYTES))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refused("standard input is not UTF-8 text; save the key as plain text") from None


def _wait_readable(fd):
    """Wait a little for a non-blocking descriptor to have data (or its end); the caller's
    deadline decides when to give up."""
    import select
    try:
        select.select([fd], [], [], 0.2)
    except (OSError, ValueError):  # Windows cannot select on pipes
        time.sleep(0.05)


def _read_until_end(fd, limit, timeout):
    """Up to limit bytes from fd until end of file, or None when it does not end in time.

    A daemon thread reads with os.read (no buffered-reader lock), so a blocked read cannot stop
    the interpreter from exiting. A non-blocking pipe (EAGAIN) is waited on, not taken as its end.
    """
    import threading
    chunks, errors = [], []
    finished = threading.Event()

    def read():
        try:
            size = 0
            while size < limit:
                try:
                    chunk = os.read(fd, min(65536, limit - size))
                except BlockingIOError:
                    _wait_readable(fd)
                    continue
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as error:
            errors.append(error)
        finally:
            finished.set()

    threading.Thread(target=read, name="stdin-reader", daemon=True).start()
    if not finished.wait(timeout):
        return None
    if errors:
        raise Failed("standard input cannot be read: {}".format(errors[0].strerror or type(errors[0]).__name__))
    return b"".join(chunks)


def current_folder():
    try:
        return os.getcwd()
    except OSError:
        raise Refused("the current folder was deleted or cannot be read; cd into the project folder "
                      "and run init_env.py again") from None


def verify_command(cwd=None):
    return script_command("verify.py", cwd)


def next_step(result, gitignore=None, cwd=None):
    verify = verify_command(cwd)
    if gitignore and gitignore.tracked_env:
        return ("stop tracking the .env file ({}, then commit); treat any key it ever held as leaked: "
                "delete it at {}, create a new one and put it in {} yourself (in your editor, not in a "
                "chat); then run: {}".format(gitignore.untrack_command, CONSOLE_URL, result.path, verify))
    if result.status in ("created", "appended", "placeholder_present"):
        return ("open {}, create or copy an API key, and put it in place of the placeholder in {} "
                "line {} yourself (in your editor, not in a chat); then run: {}".format(
                    CONSOLE_URL, result.path, result.key.line, verify))
    if (result.status in ("already_set", "written") and result.permissions is not None
            and result.permissions.too_open and not result.permissions.fixed):
        return ("other users can read {}: run `{} --path {} --fix-permissions`, then: {}".format(
            result.path, script_command("init_env.py", cwd), result.path, verify))
    if result.status in ("already_set", "written"):
        return "run: {} (it checks the key without spending tokens)".format(verify)
    return ("fix the problem above and run init_env.py again; the key itself comes from {}, and "
            "{} checks it".format(CONSOLE_URL, verify))


def _key_text(key):
    if key.set:
        kind = {"standard": "standard key", "token_plan": "Token Plan key (sk-sp-)",
                "unknown": "unknown key type"}.get(key.type, "key")
        return "{}, {}, {}".format(key.where, kind, key.fingerprint)
    if key.placeholder:
        return "placeholder, {}".format(key.where)
    return "not set"


def _mode_text(permissions):
    if permissions.fixed:
        return permissions.mode + " (tightened)"
    if permissions.too_open:
        return permissions.mode + " (group or others can read it)"
    return permissions.mode + " (owner only)"


def _gitignore_text(gitignore):
    if gitignore.skipped:
        return "skipped ({})".format(gitignore.skipped)
    if gitignore.error:
        added = " (added {})".format(", ".join(gitignore.added)) if gitignore.added else ""
        return "{}{}: {}".format(gitignore.path, added, gitignore.error)
    done = "added " + ", ".join(gitignore.added) if gitignore.added else "already ignores .env files"
    return "{}: {}".format(gitignore.path, done)


def _tracked_warning(gitignore):
    return ("WARNING: the .env file is tracked by git, so .gitignore does not protect it. Treat any key "
            "it ever held as leaked: delete that key at {} and create a new one. Then stop tracking "
            "the file (this keeps your copy): {} and commit.".format(CONSOLE_URL, gitignore.untrack_command))


def to_json(result, gitignore, exit_code, step):
    key = result.key
    return {"version": VERSION, "status": result.status, "ok": exit_code == 0, "exit_code": exit_code,
            "path": str(result.path), "symlink": result.symlink, "message": result.message,
            "key": {"set": key.set, "placeholder": key.placeholder, "name": key.name, "line": key.line,
                    "source": key.source, "type": key.type, "fingerprint": key.fingerprint,
                    "problems": key.problems},
            "permissions": result.permissions.to_json() if result.permissions else None,
            "gitignore": gitignore.to_json() if gitignore else None,
            "warnings": result.warnings, "next_step": step}


def render_text(result, gitignore, exit_code, step, output):
    if result.status in ("refused", "failed"):
        output.line("Problem:   " + result.message)
    else:
        output.line("Env file:  " + result.message)
        output.line("Key:       " + _key_text(result.key))
    if result.permissions:
        output.line("Mode:      " + _mode_text(result.permissions))
    if gitignore:
        output.line("Gitignore: " + _gitignore_text(gitignore))
    output.line("Status:    {} (exit {})".format(result.status, exit_code))
    output.line("Next:      " + step)


def run(args, output):
    from qianwen_auth.envsetup import Options, SetupResult, check_new_key, setup_env
    from qianwen_auth.gitignore import GIT_BUDGET, ensure_ignored, key_write_refusal

    deadline = time.monotonic() + GIT_BUDGET
    notes, cwd, gitignore = [], None, None

    def before_key_write(path):
        # Under the .env lock, right before the key lands: .gitignore first, then git's verdict.
        nonlocal gitignore
        if not args.no_gitignore:
            gitignore = ensure_ignored(path, cwd=cwd, deadline=deadline)
        problem = key_write_refusal(path, cwd=cwd, deadline=deadline)
        if problem:
            raise Refused(problem)

    try:
        for part in key_like_path_parts(args.path):
            output.remember(part)
        refuse_key_like_path(args.path)
        cwd = current_folder()
        if (args.replace or args.allow_token_plan) and not args.from_stdin:
            raise Refused("--replace and --allow-token-plan only apply with --from-stdin")
        options = Options(path=os.path.join(cwd, args.path), var=args.var, replace=args.replace,
                          fix_permissions=args.fix_permissions, before_key_write=before_key_write)
        if args.from_stdin:
            raw = read_stdin_key(sys.stdin, cwd=cwd)
            for part in key_like_parts(raw):
                output.remember(part)
            options.new_key, notes = check_new_key(raw, args.allow_token_plan)
        result = setup_env(options)
    except (Refused, Failed) as error:
        shown = Path(os.path.join(cwd, args.path) if cwd else args.path)
        result = SetupResult(path=Path(os.path.normpath(str(shown))), message=str(error),
                             status="refused" if isinstance(error, Refused) else "failed")
    result.warnings[:0] = notes
    if gitignore is None and not args.no_gitignore and result.status not in ("refused", "failed"):
        gitignore = ensure_ignored(result.path, cwd=cwd, deadline=deadline)
    exit_code = result.exit_code
    if gitignore and gitignore.error and exit_code == 0:
        exit_code = 1
    step = next_step(result, gitignore, cwd)
    for warning in result.warnings:
        output.error("warning: " + warning)
    if gitignore and gitignore.tracked_env:
        output.error(_tracked_warning(gitignore))
    if args.json:
        output.json(to_json(result, gitignore, exit_code, step))
    else:
        render_text(result, gitignore, exit_code, step, output)
    return exit_code


def _stopped(args, output, stop):
    """Ctrl-C (130) or SIGTERM/SIGHUP (128 + the signal): say so, and keep the one JSON object."""
    if isinstance(stop, Terminated):
        import signal
        code, what = 128 + stop.signum, "stopped by {}".format(signal.Signals(stop.signum).name)
    else:
        code, what = 130, "interrupted"
    message = "{}; any temporary file was removed. Run init_env.py again".format(what)
    output.error("init_env.py: " + message)
    if args.json:
        output.json({"version": VERSION, "status": "failed", "ok": False, "exit_code": code, "message": message})
    return code


def main(argv=None):
    args = build_parser(argv).parse_args(argv)
    output = Output()
    try:
        with terminate_as_exception():
            return run(args, output)
    except KeyboardInterrupt as stop:
        return _stopped(args, output, stop)
    except BrokenPipeError:
        # The reader went away; point stdout at nothing so the exit flush stays quiet.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except Exception as error:  # never a traceback for the user; one redacted line instead
        output.error("init_env.py: internal error: {}: {}".format(type(error).__name__, error))
        if args.json:
            output.json({"version": VERSION, "status": "failed", "ok": False, "exit_code": 1,
                         "message": "internal error: {}".format(type(error).__name__)})
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
