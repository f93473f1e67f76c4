"""Preparing a .env file: a placeholder where no key is assigned, the real key only when asked.

The file is never written through a symlink: an atomic rename would replace the link with a plain
file (leaving the real file untouched), and following it could write somewhere the user did not
mean to. Reading through a symlink for the status report is fine.

Read, decide and write happen under a lock beside the file (".<name>.lock.env", removed after), so
two runs never build on the same old content. Temporary files are named ".<name>.<random>.tmp.env":
the *.env line init_env.py puts in .gitignore covers them, a killed run's leftovers are removed on
the next run, and SIGTERM/SIGHUP (see fsutil.terminate_as_exception) unlink them on the way out.
"""

import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .credentials import KEY_NAMES
from .envedit import EditError, append_line, format_assignment, replace_value
from .envfile import EnvFileError, parse_env_text, read_env_file
from .fsutil import (
    OwnerNotKept, atomic_write_bytes, create_new_file, hard_link_refusal, read_only_refusal, sibling_lock,
    skills_tree_reason, stale_temp_files,
)
from .keys import PLACEHOLDER, TOKEN_PLAN, UNKNOWN, check_key

CONSOLE_URL = "https://platform.qianwenai.com/home/api-keys"
PRIVATE_MODE = 0o600

# status -> exit code; a usage error or a refusal by policy is 2, a failure to read or write is 1.
EXIT_CODES = {"created": 0, "appended": 0, "already_set": 0, "placeholder_present": 0, "written": 0,
              "refused": 2, "failed": 1}


TEMP_SUFFIX = ".tmp.env"
# Earlier versions named them ".<name>.<random>.tmp", which no .gitignore line of ours covers.
_OLD_TEMP_SUFFIX = ".tmp"
LOCK_SUFFIX = ".lock.env"
LOCK_TIMEOUT = 15.0

# Key-shaped runs in a path or in refused input: what the reporter must mask, never a whole text.
_KEY_IN_NAME = re.compile(r"(?i)(?<![a-z0-9])sk-(?:sp-)?[a-z0-9]{16,}")
_TOKEN = re.compile(r"[A-Za-z0-9]{20,}")
_KEY_LIKE = re.compile(r"[A-Za-z0-9_\-]{8,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Repairs worth a word; a line break or spaces around a piped key are expected (echo, pbpaste).
_REPAIR_WORDS = {"surrounding_quotes": "surrounding quotes", "bearer_prefix": 'a leading "Bearer"'}


class Refused(Exception):
    """We will not do it (policy or usage); the message says why and what to do instead."""


class Failed(Exception):
    """Reading or writing did not work; the message names the file and the reason, never content."""


@dataclass
class KeyReport:
    set: bool = False                 # a real (non-placeholder) key is assigned
    placeholder: bool = False         # the placeholder, or an empty value, is assigned
    name: Optional[str] = None
    line: Optional[int] = None
    source: Optional[str] = None      # dotenv:<path>
    where: Optional[str] = None
    type: Optional[str] = None
    fingerprint: Optional[str] = None
    problems: List[str] = field(default_factory=list)


@dataclass
class Permissions:
    mode: str
    too_open: bool = False            # group or others have any access
    fixed: bool = False

    def to_json(self):
        return {"mode": self.mode, "too_open": self.too_open, "fixed": self.fixed}


@dataclass
class SetupResult:
    path: Path
    status: str = "failed"
    message: str = ""
    hint: str = ""
    key: KeyReport = field(default_factory=KeyReport)
    permissions: Optional[Permissions] = None
    symlink: bool = False
    warnings: List[str] = field(default_factory=list)

    @property
    def exit_code(self):
        return EXIT_CODES[self.status]


@dataclass
class Options:
    path: str = ".env"
    var: str = "DASHSCOPE_API_KEY"
    new_key: Optional[object] = None          # a keys.KeyCheck that passed check_new_key, or None
    replace: bool = False
    fix_permissions: bool = False
    environ: Dict[str, str] = field(default_factory=lambda: dict(os.environ))
    # Called with the path right before a real key is written; raises Refused to stop it (init_env
    # makes sure git ignores the file there, under this module's lock).
    before_key_write: Optional[Callable[[Path], None]] = None


def _looks_random(token):
    """Mixed case and digits, changing class often: a generated secret, not a name like MyApp2024."""
    if not (any(c.isdigit() for c in token) and any(c.islower() for c in token)
            and any(c.isupper() for c in token)):
        return False
    classes = ["d" if c.isdigit() else "l" if c.islower() else "u" for c in token]
    changes = sum(1 for a, b in zip(classes, classes[1:]) if a != b)
    return changes * 3 >= len(token)


def key_like_path_parts(path):
    """The parts of a path given as --path that look like an API key or a generated secret (check
    the path as the user typed it: the folders above it are not theirs to choose)."""
    found = []
    for part in re.split(r"[\\/]", str(path)):
        found += [m.group(0) for m in _KEY_IN_NAME.finditer(part) if any(c.isdigit() for c in m.group(0))]
        found += [m.group(0) for m in _TOKEN.finditer(part) if _looks_random(m.group(0))]
    return found


def refuse_key_like_path(path):
    if key_like_path_parts(path):
        raise Refused("the path given looks like an API key, not a file name (it is not shown here); "
                      "pass the .env file's path, and pipe the key in with --from-stdin")


def key_like_parts(raw):
    """What of the text on standard input must be masked in output: the cleaned key when it is one,
    else only its key-shaped runs (letters and digits mixed), so that masking a refused paste does
    not garble unrelated words such as a host name."""
    check = check_key(raw)
    if check.cleaned and not check.invalid_reason:
        return [check.cleaned]
    return [token for token in _KEY_LIKE.findall(raw)
            if any(c.isdigit() for c in token) and any(c.isalpha() for c in token)]


def check_new_key(raw, allow_token_plan=False):
    """The key given on standard input, checked as verify.py checks keys; returns (KeyCheck, notes)."""
    if _CONTROL.search(raw):
        raise Refused("the text on standard input contains control characters (terminal colour codes, "
                      "for example); copy the key again from {} as plain text".format(CONSOLE_URL))
    check = check_key(raw)
    if "empty" in check.problems:
        raise Refused("standard input held no key")
    if check.placeholder:
        raise Refused("standard input holds a placeholder, not a key")
    if check.invalid_reason:
        raise Refused("the key on standard input cannot be used: {}; copy it again from {}".format(
            check.invalid_reason, CONSOLE_URL))
    if check.key_type == TOKEN_PLAN and not allow_token_plan:
        raise Refused("the key on standard input is a Token Plan key (sk-sp-), which only interactive "
                      "AI tools can use; create a standard key at {} (or pass --allow-token-plan to "
                      "store it anyway)".format(CONSOLE_URL))
    notes = []
    worth_saying = [_REPAIR_WORDS[repair] for repair in check.repairs if repair in _REPAIR_WORDS]
    if worth_saying:
        notes.append("removed from the key on standard input: {}".format(", ".join(worth_saying)))
    if check.key_type == UNKNOWN:
        notes.append("the key on standard input does not start with sk-; stored anyway")
    return check, notes


def effective_assignment(env):
    """The key assignment the family's scripts use from this file (QIANWEN_API_KEY first; the last
    duplicate wins; an empty value falls through), or an empty one if that is all there is."""
    assigned = [env.last(name) for name in KEY_NAMES]
    assigned = [assignment for assignment in assigned if assignment is not None and assignment.value is not None]
    for assignment in assigned:
        if assignment.value.strip():
            return assignment
    return assigned[0] if assigned else None


def key_report(env, path):
    assignment = effective_assignment(env)
    if assignment is None:
        return KeyReport()
    check = check_key(assignment.value)
    report = KeyReport(name=assignment.name, line=assignment.line, source="dotenv:{}".format(path),
                       where="{} line {} ({})".format(path, assignment.line, assignment.name),
                       problems=list(check.problems))
    report.placeholder = check.placeholder or not check.cleaned
    report.set = not report.placeholder
    if report.set:
        report.type, report.fingerprint = check.key_type, check.fingerprint
    return report


def _file_warnings(env, path):
    warnings = list(env.warnings)
    for name in KEY_NAMES:
        lines = env.duplicates(name)
        if len(lines) > 1:
            warnings.append("{} assigns {} {} times (lines {}); the last one, line {}, is used".format(
                path, name, len(lines), ", ".join(map(str, lines)), lines[-1]))
    winner = effective_assignment(env)
    if winner is not None and (winner.value or "").strip():
        repairs = check_key(winner.value).repairs
        if repairs:
            warnings.append("{} line {} ({}) needs cleaning ({}): other tools may read it wrongly; edit the "
                            "line, or pipe the key in again with --from-stdin".format(
                                path, winner.line, winner.name, ", ".join(code.replace("_", " ") for code in repairs)))
    for name in KEY_NAMES:
        other = env.last(name)
        if winner is None or other is None or other is winner or not (other.value or "").strip():
            continue
        if other.value.strip() != winner.value.strip():
            warnings.append("{} line {} ({}) holds a different value, shadowed by line {} ({})".format(
                path, other.line, other.name, winner.line, winner.name))
    return warnings


def _environment_warnings(environ):
    warnings = []
    for name in KEY_NAMES:
        if name not in environ:
            continue
        if environ[name].strip():
            warnings.append("the environment variable {} is set and takes priority over every .env "
                            "file; unset it if the key in .env should be used".format(name))
        else:
            warnings.append("the environment variable {} is exported but empty and hides {} in .env "
                            "files: unset it".format(name, name))
    return warnings


def _os_reason(error):
    return error.strerror or type(error).__name__


def _read(path):
    """The parsed file, or None when there is none; symlinks are read through."""
    if not os.path.exists(str(path)):
        if path.is_symlink():
            try:
                os.stat(str(path))
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise Refused("{} is a symlink loop (its links lead back to themselves); replace it with "
                                  "a real file, or point --path at the file you mean".format(path)) from None
            raise Refused("{} is a symlink to a file that does not exist; point --path at the real "
                          "file".format(path))
        return None
    try:
        return read_env_file(path)
    except EnvFileError as error:
        raise Failed(str(error)) from None


def _refuse_symlink(path):
    if path.is_symlink():
        raise Refused("{} is a symlink; init_env.py does not write through symlinks. Run it with "
                      "--path {} to edit the real file".format(path, os.path.realpath(str(path))))


def _create(path, text):
    """Raises FileExistsError when a process that does not take our lock made the file meanwhile."""
    try:
        create_new_file(path, text.encode("utf-8"), mode=PRIVATE_MODE)
    except FileExistsError:
        raise
    except OSError as error:
        raise Failed("{} cannot be created: {}".format(path, _os_reason(error))) from None


def _rewrite(path, text, mode, options=None):
    """Replace the file with text; with options, a real key is being written: ask first."""
    try:
        refusal = hard_link_refusal(path)
        if refusal:
            raise Refused(refusal)
        refusal = read_only_refusal(path)
        if refusal:
            raise Failed(refusal)
        if options is not None:
            _before_key_write(path, options)
        atomic_write_bytes(path, text.encode("utf-8"), mode=mode, temp_suffix=TEMP_SUFFIX, keep_owner=True)
    except OwnerNotKept as error:
        raise Failed(error.strerror) from None
    except OSError as error:
        raise Failed("{} cannot be written: {}".format(path, _os_reason(error))) from None


def _before_key_write(path, options):
    if options.before_key_write:
        options.before_key_write(path)


def _pairs(env):
    return [(assignment.name, assignment.value) for assignment in env.assignments]


def _checked_edit(env, path, edit, expected):
    """Apply edit to the text; the result must read back as exactly the expected assignments
    (every other one unchanged), or nothing is written."""
    try:
        text = edit(env.text)
    except EditError as error:
        raise Failed("{} cannot be edited safely ({}); edit it by hand".format(path, error)) from None
    if _pairs(parse_env_text(text, path)) != expected:
        raise Failed("{} cannot be edited safely (the file would not read back as intended); "
                     "edit it by hand".format(path))
    return text


def _append(path, env, name, value):
    return _checked_edit(env, path, lambda text: append_line(text, format_assignment(name, value)),
                         _pairs(env) + [(name, value)])


def _replace(path, env, assignment, value):
    expected = [(a.name, value if a is assignment else a.value) for a in env.assignments]
    return _checked_edit(env, path, lambda text: replace_value(text, assignment, value), expected)


def _permissions(path, result, fix):
    if os.name == "nt":
        return
    try:
        mode = os.stat(str(path)).st_mode & 0o777
    except OSError as error:
        raise Failed("{} cannot be checked: {}".format(path, _os_reason(error))) from None
    permissions = Permissions(mode="{:04o}".format(mode), too_open=bool(mode & 0o077))
    result.permissions = permissions
    if not permissions.too_open:
        return
    if not fix:
        result.warnings.append("{} can be read by group or others (mode {}); run again with "
                               "--fix-permissions to make it owner-only".format(path, permissions.mode))
        return
    _refuse_symlink(path)
    try:
        os.chmod(str(path), mode & ~0o077)
    except OSError as error:
        raise Failed("{} permissions cannot be changed: {}".format(path, _os_reason(error))) from None
    permissions.mode, permissions.fixed = "{:04o}".format(mode & ~0o077), True


def _update(path, env, options, result):
    """Decide what to do with an existing file; returns the status."""
    current = effective_assignment(env)
    new = options.new_key
    if current is None:
        _refuse_symlink(path)
        if not new:
            _rewrite(path, _append(path, env, options.var, PLACEHOLDER), None)
            return "appended"
        _rewrite(path, _append(path, env, options.var, new.cleaned), PRIVATE_MODE, options)
        return "written"
    if result.key.placeholder:
        if not new:
            return "placeholder_present"
        _refuse_symlink(path)
        _rewrite(path, _replace(path, env, current, new.cleaned), PRIVATE_MODE, options)
        return "written"
    if not new:
        return "already_set"
    if result.key.fingerprint == new.fingerprint:
        if current.value == new.cleaned:
            return "already_set"
        # The same key, pasted badly before (quotes, "Bearer ", spaces): writing it cleanly loses nothing.
        _refuse_symlink(path)
        _rewrite(path, _replace(path, env, current, new.cleaned), PRIVATE_MODE, options)
        return "written"
    if not options.replace:
        raise Refused("{} already holds a key ({}); pass --replace to overwrite it".format(
            result.key.where, result.key.fingerprint))
    _refuse_symlink(path)
    _rewrite(path, _replace(path, env, current, new.cleaned), PRIVATE_MODE, options)
    return "written"


_MESSAGES = {
    "created": "created with a placeholder for the key",
    "appended": "placeholder for the key added at the end",
    "placeholder_present": "already has a placeholder for the key; nothing changed",
    "already_set": "already holds a key; nothing changed",
    "written": "key written",
}


def _remove_stale_temp_files(path, result):
    for stale in stale_temp_files(path, TEMP_SUFFIX) + stale_temp_files(path, _OLD_TEMP_SUFFIX):
        try:
            os.unlink(str(stale))
            result.warnings.append("removed {}, a temporary file left by an interrupted run (it may have "
                                   "held a key)".format(stale))
        except OSError as error:
            result.warnings.append("{} was left by an interrupted run and may hold a key; it cannot be "
                                   "removed ({}): delete it yourself".format(stale, _os_reason(error)))


def _create_or_update(path, options, result):
    """Returns the status and the file as it is now."""
    env = _read(path)
    if env is None:
        value = options.new_key.cleaned if options.new_key else PLACEHOLDER
        if options.new_key:
            _before_key_write(path, options)
        try:
            _create(path, format_assignment(options.var, value) + "\n")
            return ("written" if options.new_key else "created"), read_env_file(path)
        except FileExistsError:  # made meanwhile by a process without our lock: judge what it wrote
            env = _read(path)
            if env is None:
                raise Failed("{} appeared and vanished while init_env.py was creating it; run it "
                             "again".format(path)) from None
    result.key = key_report(env, path)
    status = _update(path, env, options, result)
    return status, (read_env_file(path) if status in ("appended", "written") else env)


def setup_env(options):
    """Do the .env part of init_env.py and describe it; never raises for bad input."""
    path = Path(os.path.abspath(options.path))
    result = SetupResult(path=path, symlink=path.is_symlink())
    result.warnings.extend(_environment_warnings(options.environ))
    try:
        reason = skills_tree_reason(path)
        if reason:
            raise Refused("init_env.py does not write {}: {}. Run it from your project folder, or "
                          "pass --path".format(path, reason))
        try:
            with sibling_lock(path, LOCK_SUFFIX, LOCK_TIMEOUT):
                _remove_stale_temp_files(path, result)
                result.status, env = _create_or_update(path, options, result)
                result.key = key_report(env, path)
                result.warnings.extend(_file_warnings(env, path))
                result.message = "{}: {}".format(path, _MESSAGES[result.status])
                _permissions(path, result, options.fix_permissions)
        except TimeoutError:
            raise Failed("{} is being changed by another init_env.py run; try again when it has "
                         "finished".format(path)) from None
    except Refused as error:
        result.status, result.message = "refused", str(error)
    except (Failed, EnvFileError) as error:
        result.status, result.message = "failed", str(error)
    return result
