"""The update-reminder state the QianWen skill family shares: where it lives, reading, saving, deciding.

Skills of the family offer three choices when the qianwen-update-check skill is missing (install now,
skip for now, never remind me) and record the answer in one JSON object, compatible with them:
  last_interaction  Unix time, float seconds, of the last "install now" or "skip": quiet for 24 hours
  never_install     true once the user chose "never remind me"
Keys written by other tools are carried through every save unchanged.

Location: <root>/.agents/state.json, root being the nearest ancestor of this skill's folder that holds
a .agents/ directory (a folder named .agents is never a root; neither is the skill folder itself, so
nothing is ever written inside it); ~/.agents/state.json when there is none.
"""

import json
import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, List, Optional

from .fsutil import (
    SKILL_DIR, FileNotRead, atomic_write_bytes, file_lock, read_small_file, skills_tree_reason,
)

QUIET_SECONDS = 24 * 60 * 60
UPDATE_CHECK_SKILL = "qianwen-update-check"
DISABLE_VARIABLE = "QIANWEN_NO_UPDATE_PROMPT"
LAST_INTERACTION = "last_interaction"
NEVER_INSTALL = "never_install"

# Where the family installs skills, relative to the root (besides the folder next to this skill).
_SKILL_FOLDERS = ("skills", "skills/ops", ".agents/skills", ".agents/skills/ops")
_TRUE_WORDS = ("1", "true", "yes", "on")
# A reader that meets half a file written by a tool that does not write atomically looks once more.
_REREAD_DELAY = 0.05


class StateWriteError(Exception):
    """The state was not saved: refused by policy or by the file system. The message says which."""


class NoStateLocation(Exception):
    """No .agents folder above the skill and no home folder: only --state-file can say where."""


@dataclass
class StoredState:
    """The state file's object as read; empty when the file is missing or unusable.

    unusable: empty, not JSON or not an object, so the next save rewrites it. unreadable: it is
    there but was not read (permissions, a pipe or device, too large), so no save may replace it:
    what other tools keep in it would be lost unseen.
    """
    path: Path
    data: dict = field(default_factory=dict)
    exists: bool = False
    unusable: bool = False
    unreadable: bool = False
    problem: str = ""    # what is wrong with an unusable or unreadable file, for messages
    warnings: List[str] = field(default_factory=list)

    @property
    def never_install(self):
        # The family tests truthiness, so any true-ish value silences it; we agree with it.
        return bool(self.data.get(NEVER_INSTALL))

    @property
    def last_interaction(self):
        """The recorded time as a float, or None when missing or not a usable Unix time."""
        value = self.data.get(LAST_INTERACTION)
        return float(value) if _is_unix_time(value) else None


@dataclass
class Decision:
    should_prompt: bool
    reason_code: str     # environment | installed | never_install | dismissed | no_choice | expired
    reason: str
    quiet_until: Optional[float] = None


def find_root(skill_dir=None):
    """The nearest strict ancestor of the skill folder that holds a .agents/ directory, or None."""
    for folder in Path(skill_dir or SKILL_DIR).parents:
        if folder.name != ".agents" and (folder / ".agents").is_dir():
            return folder
    return None


def home_folder():
    """The user's home folder, or None when neither HOME (USERPROFILE) nor the account names one."""
    # Path.home() raises RuntimeError or, on 3.9, KeyError then; expanduser leaves "~" as it was.
    home = os.path.expanduser("~")
    return None if home == "~" else Path(home)


def state_root(skill_dir=None):
    """The root the state belongs to: the one find_root finds, else the home folder (None if none)."""
    return find_root(skill_dir) or home_folder()


def default_state_file(skill_dir=None):
    root = state_root(skill_dir)
    if root is None:
        raise NoStateLocation("there is no .agents folder above this skill and no home folder (HOME is "
                              "not set and the account has none) to keep the update-reminder state in")
    return root / ".agents" / "state.json"


def find_update_check(skill_dir=None):
    """The installed qianwen-update-check folder (next to this skill or under the root), or None."""
    skill_dir = Path(skill_dir or SKILL_DIR)
    root = state_root(skill_dir)
    candidates = [skill_dir.parent / UPDATE_CHECK_SKILL]
    if root is not None:
        candidates += [root.joinpath(*folder.split("/"), UPDATE_CHECK_SKILL) for folder in _SKILL_FOLDERS]
    for candidate in candidates:
        if (candidate / "SKILL.md").is_file():
            return candidate
    return None


def read_state(path):
    """Read the state file. Never raises or blocks: a bad file becomes empty state plus one warning."""
    path = Path(path)
    state = StoredState(path)
    for attempt in range(2):
        try:
            raw = read_small_file(path, what="state file")
        except (FileNotFoundError, NotADirectoryError):
            return state
        except (FileNotRead, OSError) as error:
            state.exists = state.unusable = state.unreadable = True
            state.problem = str(error) if isinstance(error, FileNotRead) else (
                "{} cannot be read ({})".format(path, error.strerror or type(error).__name__))
            state.warnings.append("the update-reminder state {}; treating it as empty".format(state.problem))
            return state
        state.exists = True
        data, problem = _parse(raw)
        if problem is None:
            break
        if attempt == 0:
            time.sleep(_REREAD_DELAY)
    if problem is not None:
        state.unusable = True
        state.problem = "{} {}".format(path, problem)
        state.warnings.append("the update-reminder state {} {}; treating it as empty (it is rewritten "
                              "on the next save)".format(path, problem))
        return state
    state.data = data
    if LAST_INTERACTION in data and not _is_unix_time(data[LAST_INTERACTION]):
        state.warnings.append("ignoring {} in {}: it is not a Unix time".format(LAST_INTERACTION, path))
    return state


def _parse(raw):
    if not raw.strip():
        return None, "is empty"
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "is not valid JSON"
    if not isinstance(data, dict):
        return None, "is not a JSON object"
    # Python reads NaN, Infinity and 1e999 but other tools' parsers do not, and a save would write
    # them back as NaN or Infinity: such a file counts as corrupt. An unusable time of ours is only
    # ignored (and dropped on the next save), so the rest of the file still counts.
    if _holds_non_finite({key: value for key, value in data.items() if key != LAST_INTERACTION}):
        return None, "holds NaN or an infinite number, which JSON cannot carry"
    return data, None


def _holds_non_finite(value):
    pending = [value]
    while pending:
        value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def update_state(path, change: Callable[[dict], bool], create=True):
    """Apply change(data) -> changed? to the state under a lock and save it atomically.

    Returns the StoredState as read before the change (for its warnings) and whether a save happened.
    A file that was unusable is rewritten even when nothing changed; one that could not be read is
    never replaced. With create=False a missing file stays missing (nothing is created, not even the
    folder or the lock). Raises StateWriteError.
    """
    path = Path(path)
    reason = skills_tree_reason(path)
    if reason:
        raise StateWriteError("refusing to write {}: {}".format(path, reason))
    # Write through a link to the file it points at, so the link itself survives.
    target = Path(os.path.realpath(str(path)))
    if target.is_dir():
        raise StateWriteError("refusing to write {}: it is a folder, not a file".format(path))
    # Looked at once before the lock too, so nothing (not even a lock file) is made beside a device.
    before = _readable_or_refuse(target)
    if not create and not before.exists:
        return before, False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(str(target) + ".lock"):
            before = _readable_or_refuse(target)
            data = dict(before.data)
            changed = change(data)
            if not (changed or before.unusable) or (not create and not before.exists):
                return before, False
            _drop_unusable_time(data)
            atomic_write_bytes(target, _encode(data))
    except OSError as error:
        raise StateWriteError("could not save the update-reminder state {} ({})".format(
            path, error.strerror or error)) from None
    return before, True


def _readable_or_refuse(target):
    state = read_state(target)
    if state.unreadable:
        raise StateWriteError("{}. The update-reminder state was not saved: replacing that file unread "
                              "would lose what other tools keep in it; fix or move it".format(state.problem))
    return state


def _drop_unusable_time(data):
    """A non-finite last_interaction (1e999 reads as infinity) would be written as Infinity: drop it."""
    value = data.get(LAST_INTERACTION)
    if isinstance(value, float) and not math.isfinite(value):
        del data[LAST_INTERACTION]


def _encode(data):
    # Strict JSON: other tools' parsers reject NaN and Infinity (allow_nan=False is the backstop).
    if _holds_non_finite(data):
        raise StateWriteError("the update-reminder state was not saved: it would hold NaN or an "
                              "infinite number, which JSON cannot carry")
    try:
        text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate from a \\ud800-style escape cannot be UTF-8; keep it escaped instead.
        return (json.dumps(data, ensure_ascii=True, indent=2, allow_nan=False) + "\n").encode("ascii")


def record_dismissal(path, now=None):
    """The user chose "install now" or "skip for now": quiet for the next 24 hours."""
    moment = time.time() if now is None else now

    def change(data):
        data[LAST_INTERACTION] = float(moment)
        return True
    return update_state(path, change)


def record_never_install(path):
    """The user chose "never remind me"."""
    def change(data):
        data[NEVER_INSTALL] = True
        return True
    return update_state(path, change)


def forget_choices(path):
    """Remove both recorded choices, keep every other key; a missing file stays missing."""
    def change(data):
        present = [key for key in (LAST_INTERACTION, NEVER_INSTALL) if key in data]
        for key in present:
            del data[key]
        return bool(present)
    return update_state(path, change, create=False)


def disabled_by_environment(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get(DISABLE_VARIABLE, "").strip().lower() in _TRUE_WORDS


def quiet_until(state, now):
    """When the 24-hour quiet after the last dismissal ends, or None when it is not running."""
    last = state.last_interaction
    if last is None or now >= last + QUIET_SECONDS:
        return None
    return last + QUIET_SECONDS


def decide(state, update_check, now=None, environ=None):
    """May the agent offer the three choices now? The first reason that says no wins."""
    now = time.time() if now is None else now
    until = quiet_until(state, now)
    if disabled_by_environment(environ):
        return Decision(False, "environment", "disabled by environment ({}=1)".format(DISABLE_VARIABLE),
                        until)
    if update_check is not None:
        return Decision(False, "installed", "the {} skill is already installed ({})".format(
            UPDATE_CHECK_SKILL, update_check), until)
    if state.never_install:
        return Decision(False, "never_install", "the user chose never to be reminded", until)
    if until is not None:
        return Decision(False, "dismissed", "the user answered less than 24 hours ago; quiet until "
                        + iso_time(until), until)
    if state.last_interaction is None:
        return Decision(True, "no_choice", "no choice recorded; offer the three choices")
    return Decision(True, "expired", "the last answer is more than 24 hours old; offer the three choices")


def iso_time(timestamp):
    """A Unix time as ISO 8601 UTC, e.g. 2026-01-02T03:04:05Z."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _is_unix_time(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        # Finite and within what a datetime can show, 24 hours later included.
        return math.isfinite(value) and bool(iso_time(float(value) + QUIET_SECONDS))
    except (OverflowError, OSError, ValueError):
        return False
