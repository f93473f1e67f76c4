"""Files: atomic writes, an inter-process lock, and where we must never write.

Writes go to a uniquely named temporary file in the same folder, are flushed and fsynced, then
renamed over the target, so a reader sees the old file or the new one, never half of either.
"""

import contextlib
import errno
import os
import sys
import stat
import tempfile
import time
from pathlib import Path

# The folder that holds SKILL.md: scripts/ and this package live inside it.
SKILL_DIR = Path(__file__).resolve().parent.parent.parent

# Folders where agents keep installed skills, relative to a project or the home folder.
AGENT_SKILL_FOLDERS = (".claude", ".agents", ".qwen", ".gemini", ".codex", ".cursor", ".opencode",
                       ".config", ".windsurf", ".trae", ".kiro", ".github")

_REPLACE_RETRIES = 10

# Our small files (.env, the update-reminder state) are never near this; anything larger is a mistake.
SMALL_FILE_LIMIT = 1024 * 1024


def script_command(name, cwd=None):
    """How to run one of this skill's scripts from cwd: relative when it is below cwd, else absolute
    (an agent copies the command as printed, so it must work from where the user is)."""
    import shlex
    script = SKILL_DIR / "scripts" / name
    try:
        shown = script.relative_to(Path(cwd or os.getcwd()).resolve())
    except ValueError:
        shown = script
    return "python3 " + shlex.quote(str(shown))


class WriteRefused(Exception):
    """A write we refuse by policy (skill folder, skills tree); the message says why."""


class FileNotRead(Exception):
    """An existing path we will not read (folder, pipe, device, over the limit); the message names
    the path and why, never content."""


def read_small_file(path, what="file", limit=SMALL_FILE_LIMIT):
    """The bytes of the regular file at path, of at most limit bytes.

    Raises FileNotRead for a folder, a pipe, socket or device (reading could block or never end) and
    for a file over the limit (a sparse one too); OSError from opening or reading passes through
    (FileNotFoundError when nothing is there, PermissionError, ...). what names the file in messages.
    """
    path = Path(path)
    if path.is_dir():
        raise FileNotRead("{} is a directory, not a {}".format(path, what))
    _check_small_regular(os.stat(str(path)), path, what, limit)
    # Non-blocking, in case a pipe took the file's place since the check above.
    fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        _check_small_regular(os.fstat(handle.fileno()), path, what, limit)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileNotRead("{} is larger than {} bytes and is not read".format(path, limit))
    return data


def _check_small_regular(info, path, what, limit):
    if not stat.S_ISREG(info.st_mode):
        raise FileNotRead("{} is not a regular file (a pipe, socket or device); it is not read".format(path))
    if info.st_size > limit:
        raise FileNotRead("{} is {} bytes; a {} over {} bytes is not read".format(path, info.st_size, what,
                                                                                 limit))


def replace_with_retry(source, target):
    """os.replace, retried on Windows where another process may hold the target open briefly."""
    for attempt in range(_REPLACE_RETRIES):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == _REPLACE_RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def atomic_write_bytes(path, data, mode=None):
    """Replace path with data atomically; mode None keeps the existing file's mode (or 0600 if new).

    A symlink is followed and its target replaced, so a .env linked from elsewhere stays linked.
    """
    path = Path(os.path.realpath(str(path)))
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
    fd, temp_name = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if os.name != "nt":
            os.chmod(temp_name, mode)
        replace_with_retry(temp_name, str(path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder):
    """Make the rename itself durable; folders cannot be opened for this on Windows."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(str(folder), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_new_file(path, data, mode=0o600):
    """Write a file that must not exist yet (O_EXCL); raises FileExistsError otherwise."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(str(path), flags, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(str(path))
        raise


@contextlib.contextmanager
def file_lock(lock_path, timeout=10.0):
    """Hold an exclusive lock on lock_path (created if needed) for a read-modify-write.

    Raises TimeoutError (an OSError) naming the file when another process holds it past timeout.
    """
    handle = open(str(lock_path), "a+b")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                _try_lock(handle)
                break
            except OSError as error:
                if error.errno not in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
                    raise
                if time.monotonic() > deadline:
                    raise TimeoutError("{} is locked by another process; try again when it has "
                                       "finished".format(lock_path)) from None
                time.sleep(0.01)
        yield
    finally:
        with contextlib.suppress(OSError):
            _unlock(handle)
        handle.close()


if os.name == "nt":
    import msvcrt

    def _try_lock(handle):
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle):
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(handle):
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle):
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _is_skill_folder(folder):
    return (folder / "SKILL.md").is_file()


def skills_tree_reason(path):
    """Why writing at path is refused (inside this skill or a skills tree), or None if allowed.

    A skills tree is an agent's skills folder (.claude/skills/, .agents/skills/, ...) or a skills/
    folder that holds skill folders with a SKILL.md. Installers copy whole folders, so anything we
    leave there would be shipped, loaded or deleted with the skill.
    """
    # The path as given and with links followed: a link out of (or into) a skills tree counts. The
    # own-folder test runs first on both so the most specific reason wins, whatever the order.
    candidates = [Path(os.path.abspath(str(path))), Path(os.path.realpath(str(path)))]
    for candidate in candidates:
        if _same_or_inside(candidate, SKILL_DIR):
            return "it is inside this skill's own folder ({})".format(SKILL_DIR)
    for candidate in candidates:
        for folder in [candidate] + list(candidate.parents):
            # Case-blind: macOS and Windows file systems are, so .CLAUDE/Skills is .claude/skills.
            if folder.name.lower() == "skills":
                if folder.parent.name.lower() in AGENT_SKILL_FOLDERS or folder.parent.name.startswith("."):
                    return "it is inside an agent's skills folder ({})".format(folder)
                if any(_is_skill_folder(child) for child in _child_folders(folder)):
                    return "it is inside a skills tree ({})".format(folder)
    return None


def _same_or_inside(path, folder):
    if path == folder or folder in path.parents:
        return True
    if os.name == "nt" or sys.platform == "darwin":
        lowered = str(folder).lower()
        return any(str(p).lower() == lowered for p in [path] + list(path.parents))
    return False


def _child_folders(folder):
    try:
        return [child for child in folder.iterdir() if child.is_dir()]
    except OSError:
        return []
