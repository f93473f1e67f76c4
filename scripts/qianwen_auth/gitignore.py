"""Keeping .env files out of git: the .gitignore lines, and what git itself says about the file.

Where git is installed and the folder is a work tree, git decides (`git check-ignore --no-index`
knows every rule: nested .gitignore files, .git/info/exclude, the user's global excludes). Without
git we compare lines, which is exact for the patterns we write ourselves.
"""

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from .fsutil import atomic_write_bytes, create_new_file

PATTERNS = (".env", ".env.local", "*.env")
# A file name each pattern must cover, checked in the .env file's own folder.
_EXAMPLES = {".env": ".env", ".env.local": ".env.local", "*.env": "local.env"}
_GIT_TIMEOUT = 10
MAX_BYTES = 1024 * 1024


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

    def to_json(self):
        return {"path": str(self.path), "added": list(self.added), "tracked_env": self.tracked_env,
                "ignored": self.ignored, "checked_with": self.method, "error": self.error,
                "untrack_command": self.untrack_command}


def find_git_root(start):
    """The nearest folder from start upwards that holds .git (a folder, or a file in a worktree)."""
    start = Path(os.path.abspath(str(start)))
    for folder in [start] + list(start.parents):
        if os.path.lexists(str(folder / ".git")):
            return folder
    return None


class Git:
    """git commands in one work tree; every method answers None when git cannot tell."""

    def __init__(self, root):
        self.root = Path(root)
        self.executable = shutil.which("git")
        self.environ = {name: value for name, value in os.environ.items()
                        if name not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}

    def _run(self, *args):
        if not self.executable:
            return None
        try:
            return subprocess.run([self.executable, "-C", str(self.root)] + list(args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=self.environ, timeout=_GIT_TIMEOUT)
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

    def is_tracked(self, relative):
        done = self._run("ls-files", "-z", "--", relative)
        if done is None or done.returncode != 0:
            return None
        return bool(done.stdout.strip(b"\0"))


def _effective_lines(text):
    """The non-comment lines of a .gitignore, stripped the way git strips them."""
    for line in text.splitlines():
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


def _first_newline(data):
    """The line break that occurs first in data (b"\\n" when there is none)."""
    positions = [(data.find(nl), nl) for nl in (b"\r\n", b"\n", b"\r") if data.find(nl) >= 0]
    if not positions:
        return b"\n"
    first = min(position for position, _ in positions)
    return b"\r\n" if data[first:first + 2] == b"\r\n" else data[first:first + 1]


def append_patterns(data, patterns):
    """data with one line per pattern added, after a line break if the last line lacks one."""
    newline = _first_newline(data)
    if data and data not in (b"\xef\xbb\xbf",) and not data.endswith((b"\n", b"\r")):
        data += newline
    return data + b"".join(pattern.encode("utf-8") + newline for pattern in patterns)


def _read(path):
    if path.is_symlink():
        raise GitignoreError("{} is a symlink; it is not written through: add the lines {} to the "
                             "file it points to".format(path, ", ".join(PATTERNS)))
    if path.is_dir():
        raise GitignoreError("{} is a directory, not a file".format(path))
    try:
        with open(str(path), "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise GitignoreError("{} cannot be read: {}".format(path, error.strerror or type(error).__name__)) from None
    if len(data) > MAX_BYTES:
        raise GitignoreError("{} is larger than {} bytes and is not edited".format(path, MAX_BYTES))
    return data


def _write(path, data, existed):
    try:
        if existed:
            atomic_write_bytes(path, data)
        else:
            create_new_file(path, data, mode=0o666)  # the umask decides, as for any new file
    except OSError as error:
        raise GitignoreError("{} cannot be written: {}".format(path, error.strerror or type(error).__name__)) from None


def _relative(path, root):
    return Path(os.path.relpath(str(path), str(root))).as_posix()


def untrack_command(env_path, root, cwd):
    relative = _relative(env_path, root)
    if Path(os.path.abspath(str(cwd))) == root:
        return "git rm --cached -- {}".format(shlex.quote(relative))
    return "git -C {} rm --cached -- {}".format(shlex.quote(str(root)), shlex.quote(relative))


def ensure_ignored(env_path, cwd=None, patterns=PATTERNS):
    """Make sure the repository root's .gitignore ignores patterns; report what git says.

    The root is the nearest folder above the .env file with .git, else the .env file's folder.
    Raises nothing: a problem lands in the result's `error`.
    """
    env_path = Path(os.path.abspath(str(env_path)))
    folder = env_path.parent
    git_root = find_git_root(folder)
    root = git_root or folder
    result = GitignoreResult(path=root / ".gitignore")
    git = Git(root) if git_root else None
    use_git = bool(git and git.executable and git.is_work_tree())
    try:
        data = _read(result.path)
        text = (data or b"").decode("utf-8", "surrogateescape")
        if use_git:
            result.method = "git"
            missing = []
            for pattern in patterns:
                verdict = git.is_ignored(_relative(folder / _EXAMPLES.get(pattern, pattern), root))
                if verdict is None:
                    missing = missing_by_lines(text, patterns, at_root=folder == root)
                    result.method = "lines"
                    break
                if not verdict:
                    missing.append(pattern)
        else:
            missing = missing_by_lines(text, patterns, at_root=folder == root)
        if missing:
            _write(result.path, append_patterns(data or b"", missing), existed=data is not None)
            result.added = missing
    except GitignoreError as error:
        result.error = str(error)
    if use_git:
        relative = _relative(env_path, root)
        result.ignored = git.is_ignored(relative)
        result.tracked_env = bool(git.is_tracked(relative))
        if result.tracked_env:
            result.untrack_command = untrack_command(env_path, root, cwd or os.getcwd())
    return result
