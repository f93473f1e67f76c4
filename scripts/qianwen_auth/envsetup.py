"""Preparing a .env file: a placeholder where no key is assigned, the real key only when asked.

The file is never written through a symlink: an atomic rename would replace the link with a plain
file (leaving the real file untouched), and following it could write somewhere the user did not
mean to. Reading through a symlink for the status report is fine.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .credentials import KEY_NAMES
from .envedit import EditError, append_line, format_assignment, replace_value
from .envfile import EnvFileError, parse_env_text, read_env_file
from .fsutil import atomic_write_bytes, create_new_file, skills_tree_reason
from .keys import PLACEHOLDER, TOKEN_PLAN, UNKNOWN, check_key

CONSOLE_URL = "https://platform.qianwenai.com/home/api-keys"
PRIVATE_MODE = 0o600

# status -> exit code; a usage error or a refusal by policy is 2, a failure to read or write is 1.
EXIT_CODES = {"created": 0, "appended": 0, "already_set": 0, "placeholder_present": 0, "written": 0,
              "refused": 2, "failed": 1}


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


def check_new_key(raw, allow_token_plan=False):
    """The key given on standard input, checked as verify.py checks keys; returns (KeyCheck, notes)."""
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
    try:
        create_new_file(path, text.encode("utf-8"), mode=PRIVATE_MODE)
    except FileExistsError:
        raise Failed("{} appeared while init_env.py was creating it; run it again".format(path)) from None
    except OSError as error:
        raise Failed("{} cannot be created: {}".format(path, _os_reason(error))) from None


def _rewrite(path, text, mode):
    try:
        atomic_write_bytes(path, text.encode("utf-8"), mode=mode)
    except OSError as error:
        raise Failed("{} cannot be written: {}".format(path, _os_reason(error))) from None


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
        value = new.cleaned if new else PLACEHOLDER
        _refuse_symlink(path)
        text = _append(path, env, options.var, value)
        _rewrite(path, text, PRIVATE_MODE if new else None)
        return "written" if new else "appended"
    if result.key.placeholder:
        if not new:
            return "placeholder_present"
        _refuse_symlink(path)
        text = _replace(path, env, current, new.cleaned)
        _rewrite(path, text, PRIVATE_MODE)
        return "written"
    if not new or result.key.fingerprint == new.fingerprint:
        return "already_set"
    if not options.replace:
        raise Refused("{} already holds a key ({}); pass --replace to overwrite it".format(
            result.key.where, result.key.fingerprint))
    _refuse_symlink(path)
    text = _replace(path, env, current, new.cleaned)
    _rewrite(path, text, PRIVATE_MODE)
    return "written"


_MESSAGES = {
    "created": "created with a placeholder for the key",
    "appended": "placeholder for the key added at the end",
    "placeholder_present": "already has a placeholder for the key; nothing changed",
    "already_set": "already holds a key; nothing changed",
    "written": "key written",
}


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
        env = _read(path)
        if env is None:
            value = options.new_key.cleaned if options.new_key else PLACEHOLDER
            _create(path, format_assignment(options.var, value) + "\n")
            result.status = "written" if options.new_key else "created"
            env = read_env_file(path)
        else:
            result.key = key_report(env, path)
            result.status = _update(path, env, options, result)
            if result.status in ("appended", "written"):
                env = read_env_file(path)
        result.key = key_report(env, path)
        result.warnings.extend(_file_warnings(env, path))
        result.message = "{}: {}".format(path, _MESSAGES[result.status])
        _permissions(path, result, options.fix_permissions)
    except Refused as error:
        result.status, result.message = "refused", str(error)
    except (Failed, EnvFileError) as error:
        result.status, result.message = "failed", str(error)
    return result
