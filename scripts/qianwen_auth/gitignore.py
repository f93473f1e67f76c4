"""Keeping .env files out of git: the .gitignore lines, and what git itself says about the file.

Where git is installed and the folder is a work tree, git decides (`git check-ignore --no-index`
knows every rule: nested .gitignore files, .git/info/exclude, the user's global excludes). Without
git we compare lines the way git reads them, which is exact for the patterns we write ourselves.
Outside any repository no .gitignore is created (there is nothing for it to protect from), but an
existing one in the .env file's folder is still completed.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from .fsutil import (
    FileNotRead, atomic_write_bytes, create_new_file, read_small_file, rewrite_refusal, shell_quote,
    sibling_lock,
)

PATTERNS = (".env", ".env.local", "*.env")
# A file name each pattern must cover, checked in the .env file's own folder.
_EXAMPLES = {".env": ".env", ".env.local": ".env.local", "*.env": "local.env"}
# All git calls of one run share this many seconds: a huge or hostile repository cannot stall us.
GIT_BUDGET = 10.0
# Our git calls must not run code the repository configures (an untrusted clone's fsmonitor or hooks).
_SAFE_CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=" + os.devnull)
# The lock beside .gitignore; *.env covers its name, should a killed run leave it behind.
LOCK_SUFFIX = ".lock.env"
MAX_BYTES = 1024 * 1024
NOT_A_REPOSITORY = "not a git repository"


class GitignoreError(Exception):
    """The .gitignore cannot be read or written; the message says which and why."""


@dataclass
class GitignoreResult:
    path: Path
    added: List[str] = field(default_factory=list)
    method: str = "lines"                 # "git" when git check-ignore decided, else "lines"
    ignored: Optional[bool] = None        # git's verdict on the .env file after the update
    tracked_env: bool = False
    untrack_command: Optional[str] = None
    error: Optional[str] = None
    skipped: Optional[str] = None         # why nothing was checked ("not a git repository")

    def to_json(self):
        return {"path": str(self.path), "added": list(self.added), "tracked_env": self.tracked_env,
                "ignored": self.ignored, "checked_with": self.method, "error": self.error,
                "untrack_command": self.untrack_command, "skipped": self.skipped}


def find_git_root(start):
    """The nearest folder from start upwards that holds .git (a folder, or a file in a worktree)."""
    start = Path(os.path.abspath(str(start)))
    for folder in [start] + list(start.parents):
        if os.path.lexists(str(folder / ".git")):
            return folder
    return None


class Git:
    """git commands in one work tree; every method answers None when git cannot tell (not
    installed, an error, or the run's time budget spent)."""

    def __init__(self, root, deadline=None, executable=None):
        self.root = Path(root)
        self.executable = executable or shutil.which("git")
        self.deadline = deadline if deadline is not None else time.monotonic() + GIT_BUDGET
        self.environ = {name: value for name, value in os.environ.items()
                        if name not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
        # Read-only questions must not take the index lock or refresh it under a user's feet.
        self.environ.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")

    def command(self, *args):
        return [self.executable, "-C", str(self.root)] + list(_SAFE_CONFIG) + list(args)

    def _run(self, *args):
        remaining = self.deadline - time.monotonic()
        if not self.executable or remaining <= 0:
            return None
        try:
            return subprocess.run(self.command(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=self.environ, timeout=remaining)
        except (OSError, subprocess.SubprocessError):
            return None

    def is_work_tree(self):
        done = self._run("rev-parse", "--is-inside-work-tree")
        return bool(done) and done.returncode == 0 and done.stdout.strip() == b"true"

    def is_ignored(self, relative):
        done = self._run("check-ignore", "--no-index", "-q", "--", relative)
        if done is None or done.returncode not in (0, 1):
            return None
        return done.returncode == 0

    def deciding_rule(self, relative):
        """The rule that decides about relative ("app/.gitignore:1:!.env"), or None."""
        done = self._run("check-ignore", "--no-index", "-v", "-n", "--", relative)
        if done is None or done.returncode not in (0, 1):
            return None
        rule = done.stdout.decode("utf-8", "replace").split("\t", 1)[0].strip()
        return rule if rule and rule != "::" else None

    def is_tracked(self, relative):
        done = self._run("ls-files", "-z", "--", relative)
        if done is None or done.returncode != 0:
            return None
        return bool(done.stdout.strip(b"\0"))


def _effective_lines(text):
    """The non-comment lines of a .gitignore as git reads them: split at "\n" only (a lone "\r"
    or a form feed is part of a line), one trailing "\r" dropped, trailing blanks stripped."""
    for line in text.split("\n"):
        line = line[:-1] if line.endswith("\r") else line
        line = line.lstrip("\ufeff").rstrip(" \t")
        if line and not line.startswith("#"):
            yield line


def missing_by_lines(text, patterns=PATTERNS, at_root=True):
    """Patterns that no line of text ignores (a later `!pattern` undoes an earlier one)."""
    state = {pattern: False for pattern in patterns}
    for line in _effective_lines(text):
        negated = line.startswith("!")
        body = line[1:] if negated else line
        for pattern in patterns:
            forms = {pattern, "**/" + pattern}
            if at_root:
                forms.add("/" + pattern)
            if body in forms:
                state[pattern] = not negated
    return [pattern for pattern in patterns if not state[pattern]]


def _newline(data):
    """The line break to add: CRLF when the file's first "\n" has a "\r" before it, else "\n".
    Git splits only at "\n", so a file of lone "\r" breaks gets "\n" lines it can read."""
    first = data.find(b"\n")
    return b"\r\n" if first > 0 and data[first - 1:first] == b"\r" else b"\n"


def append_patterns(data, patterns):
    """data with one line per pattern added, after a line break if the last line lacks one."""
    newline = _newline(data)
    if data and data != b"\xef\xbb\xbf" and not data.endswith(b"\n"):
        data += b"\n" if data.endswith(b"\r") else newline
    return data + b"".join(pattern.encode("utf-8") + newline for pattern in patterns)


def _read(path):
    if path.is_symlink():
        raise GitignoreError("{} is a symbolic link, and git does not read a .gitignore that is one; "
                             "replace the link with a real file that holds the lines {}".format(
                                 path, ", ".join(PATTERNS)))
    try:
        return read_small_file(path, what=".gitignore", limit=MAX_BYTES)
    except FileNotFoundError:
        return None
    except FileNotRead as error:  # a folder, a pipe that would block us, or far too large
        raise GitignoreError(str(error)) from None
    except OSError as error:
        raise GitignoreError("{} cannot be read: {}".format(path, _reason(error))) from None


def _write(path, data, existed):
    """Raises FileExistsError when the file appeared since it was read as missing."""
    try:
        if existed:
            refusal = rewrite_refusal(path)
            if refusal:
                raise GitignoreError(refusal)
            atomic_write_bytes(path, data, keep_owner=True)
        else:
            create_new_file(path, data, mode=0o666)  # the umask decides, as for any new file
    except FileExistsError:
        raise
    except OSError as error:
        raise GitignoreError("{} cannot be written: {}".format(path, _reason(error))) from None


def _reason(error):
    return error.strerror or type(error).__name__


def _relative(path, root):
    return Path(os.path.relpath(str(path), str(root))).as_posix()


def untrack_command(env_path, root, cwd):
    relative = _relative(env_path, root)
    if cwd is not None and Path(os.path.abspath(str(cwd))) == root:
        return "git rm --cached -- {}".format(shell_quote(relative))
    return "git -C {} rm --cached -- {}".format(shell_quote(str(root)), shell_quote(relative))


def _missing(path, git, folder, root, patterns):
    """(bytes of the .gitignore or None, the patterns to add, "git" or "lines").

    With git, a pattern is missing when git does not ignore its example and the root .gitignore
    lacks the line: when the line is there and git still disagrees, another rule undoes it, and
    adding it again on every run would not help."""
    data = _read(path)
    missing = missing_by_lines((data or b"").decode("utf-8", "surrogateescape"), patterns, at_root=folder == root)
    if git is None:
        return data, missing, "lines"
    verdicts = [git.is_ignored(_relative(folder / _EXAMPLES.get(pattern, pattern), root)) for pattern in patterns]
    if None in verdicts:
        return data, missing, "lines"
    return data, [p for p, ignored in zip(patterns, verdicts) if not ignored and p in missing], "git"


def _update(result, git, folder, root, patterns):
    for _ in range(3):
        data, missing, result.method = _missing(result.path, git, folder, root, patterns)
        if not missing:
            return
        try:
            _write(result.path, append_patterns(data or b"", missing), existed=data is not None)
        except FileExistsError:
            continue  # another process created it since we looked: read what it wrote
        result.added = missing
        return
    raise GitignoreError("{} keeps changing while init_env.py updates it; run it again".format(result.path))


def _not_ignored_message(git, relative):
    rule = git.deciding_rule(relative)
    if rule:
        return ("git still does not ignore {}: the rule {} un-ignores it. Remove that rule (or move "
                "the file) so the key cannot be committed".format(relative, rule))
    if not covered_by_patterns(relative):
        return ("git does not ignore {}: none of {} covers that name. Add a line for it to .gitignore, or "
                "keep the key in a .env file".format(relative, ", ".join(PATTERNS)))
    return ("git still does not ignore {}; run `git check-ignore -v --no-index -- {}` to see which rule "
            "is missing".format(relative, shell_quote(relative)))


def covered_by_patterns(path):
    """Does the file name match one of PATTERNS (as git matches them: .env, .env.local, *.env)?"""
    name = Path(path).name
    return name in (".env", ".env.local") or name.endswith(".env")


def ensure_ignored(env_path, cwd=None, patterns=PATTERNS, deadline=None):
    """Make sure the repository root's .gitignore ignores patterns; report what git says.

    The root is the nearest folder above the .env file with .git, else the .env file's folder,
    where only an existing .gitignore is edited. cwd (for the printed git command) is never read
    from the process here, so a deleted current folder cannot break the report. deadline bounds
    the time of all git calls (time.monotonic() value). Raises nothing: a problem lands in the
    result's `error`.
    """
    env_path = Path(os.path.abspath(str(env_path)))
    folder = env_path.parent
    git_root = find_git_root(folder)
    root = git_root or folder
    result = GitignoreResult(path=root / ".gitignore")
    if git_root is None and not os.path.lexists(str(result.path)):
        result.skipped = NOT_A_REPOSITORY
        return result
    git = Git(root, deadline) if git_root else None
    use_git = bool(git and git.executable and git.is_work_tree())
    try:
        with sibling_lock(result.path, LOCK_SUFFIX):
            _update(result, git if use_git else None, folder, root, patterns)
    except TimeoutError:
        result.error = "{} is being updated by another run; try again when it has finished".format(result.path)
    except GitignoreError as error:
        result.error = str(error)
    if use_git:
        relative = _relative(env_path, root)
        result.ignored = git.is_ignored(relative)
        result.tracked_env = bool(git.is_tracked(relative))
        if result.tracked_env:
            result.untrack_command = untrack_command(env_path, root, cwd)
        if result.ignored is False and not result.error:
            result.error = _not_ignored_message(git, relative)
    return result


def key_write_refusal(env_path, cwd=None, deadline=None):
    """Why a real key must not be written to env_path (git would or could commit it), or None.

    With git: the file must not be tracked and git must ignore it. Without git (or when git cannot
    tell), the name must be one the patterns cover, or a .gitignore line we can see names it.
    """
    env_path = Path(os.path.abspath(str(env_path)))
    folder = env_path.parent
    git_root = find_git_root(folder)
    root = git_root or folder
    if git_root:
        git = Git(git_root, deadline)
        if git.executable and git.is_work_tree():
            relative = _relative(env_path, git_root)
            if git.is_tracked(relative):
                return ("{} is tracked by git, so a key written there would be committed (and any key it "
                        "held has already leaked: delete it at the console). Stop tracking the file first: "
                        "{}, commit, then run again".format(env_path, untrack_command(env_path, git_root, cwd)))
            ignored = git.is_ignored(relative)
            if ignored:
                return None
            if ignored is False:
                return ("git does not ignore {}, so a key written there could be committed. Write the key "
                        "to a .env file (init_env.py adds it to .gitignore), or add {} to .gitignore "
                        "first".format(env_path, relative))
    if covered_by_patterns(env_path):
        return None
    relative = _relative(env_path, root)
    try:
        text = (_read(root / ".gitignore") or b"").decode("utf-8", "surrogateescape")
    except GitignoreError:
        text = ""
    if not missing_by_lines(text, (relative,), at_root=True):
        return None
    return ("{} is not covered by .env, .env.local or *.env and no .gitignore line names it, so without "
            "git to ask, init_env.py cannot tell that a key there stays out of commits. Write the key to "
            "a .env file, or add the line {} to {} first".format(env_path, relative, root / ".gitignore"))
