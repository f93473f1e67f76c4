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
    script = SKILL_DIR / "scripts" / name
    try:
        shown = script.relative_to(Path(cwd or os.getcwd()).resolve())
    except (ValueError, OSError):  # OSError: the current folder was deleted
        shown = script
    return ("py -3" if os.name == "nt" else "python3") + " " + shell_quote(str(shown))


def shell_quote(argument):
    """One argument quoted for the user's shell: POSIX quoting, or cmd/PowerShell's on Windows."""
    if os.name == "nt":
        import subprocess
        return subprocess.list2cmdline([argument])
    import shlex
    return shlex.quote(argument)


class OwnerNotKept(PermissionError):
    """A rewrite would change who owns the file, and we may not give it back to its owner."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. Raised like Ctrl-C, so every cleanup on the way out runs
    (temporary files unlinked, locks released) instead of the process vanishing mid-write."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def terminate_as_exception():
    """Within the block, SIGTERM and SIGHUP raise Terminated (only where they would have killed
    the process: a signal the caller ignores, as under nohup, stays ignored)."""
    import signal
    import threading
    previous = {}

    def handler(signum, frame):
        raise Terminated(signum)

    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) == signal.SIG_DFL:
                previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def hard_link_refusal(path):
    """Why an atomic rewrite of path would split hard links (the other names would keep the old
    content), or None."""
    links = os.stat(str(path)).st_nlink
    if links > 1:
        return ("{} has {} hard links; rewriting it would split them (the other names would keep the "
                "old content). Edit it yourself, or remove the other links first".format(path, links))
    return None


def read_only_refusal(path):
    """Why path must be left alone as read-only, or None. Root may write any file, so the mode
    bits count too: a file nobody may write was made read-only on purpose."""
    info = os.stat(str(path))
    if not info.st_mode & 0o222:
        return ("{} is read-only (mode {:04o}); it is left as it is. Make it writable (chmod u+w) if it "
                "should be edited".format(path, stat.S_IMODE(info.st_mode)))
    if not os.access(str(path), os.W_OK):
        return ("{} is read-only for this user (mode {:04o}, owner {}); it is left as it is. Run as its "
                "owner".format(path, stat.S_IMODE(info.st_mode), info.st_uid))
    return None


def rewrite_refusal(path):
    """Why path should not be replaced by an atomic rewrite (hard links, read-only), or None."""
    return hard_link_refusal(path) or read_only_refusal(path)


def is_temp_file_of(candidate, path, temp_suffix):
    """True when candidate is named like a temporary file atomic_write_bytes makes for path."""
    name, prefix = Path(candidate).name, "." + Path(path).name + "."
    middle = name[len(prefix):-len(temp_suffix)] if name.endswith(temp_suffix) else ""
    return name.startswith(prefix) and bool(middle) and middle.replace("_", "").isalnum()


def stale_temp_files(path, temp_suffix):
    """Temporary files of ours next to path, left by a run that was killed mid-write."""
    folder = Path(os.path.realpath(str(path))).parent
    try:
        names = os.listdir(str(folder))
    except OSError:
        return []
    return [folder / name for name in sorted(names)
            if is_temp_file_of(name, os.path.realpath(str(path)), temp_suffix)]


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


def atomic_write_bytes(path, data, mode=None, temp_suffix=".tmp", keep_owner=False):
    """Replace path with data atomically; mode None keeps the existing file's mode (or 0600 if new).

    A symlink is followed and its target replaced, so a .env linked from elsewhere stays linked.
    The temporary file is ".<name>.<random><temp_suffix>": a caller writing a secret picks a suffix
    its .gitignore covers, so a file left by a crash is not committed. keep_owner gives the new file
    the old one's owner and group (root editing a user's file), raising OwnerNotKept when it may not.
    """
    path = Path(os.path.realpath(str(path)))
    try:
        existing = os.stat(str(path))
    except FileNotFoundError:
        existing = None
    if mode is None:
        mode = existing.st_mode & 0o777 if existing else 0o600
    fd, temp_name = tempfile.mkstemp(prefix="." + path.name + ".", suffix=temp_suffix, dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if keep_owner and existing and os.name != "nt":
                _keep_owner(handle.fileno(), path, existing)
        if os.name != "nt":
            os.chmod(temp_name, mode)
        replace_with_retry(temp_name, str(path))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _sync_folder(path.parent)


def _keep_owner(fd, path, existing):
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) == (existing.st_uid, existing.st_gid):
        return
    try:
        os.fchown(fd, existing.st_uid, existing.st_gid)
    except OSError:
        raise OwnerNotKept(errno.EPERM, "{} belongs to user {} (group {}), and a rewrite by this user "
                                        "would change that; run as the file's owner".format(
                                            path, existing.st_uid, existing.st_gid)) from None


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
def file_lock(lock_path, timeout=10.0, remove=False):
    """Hold an exclusive lock on lock_path (created if needed) for a read-modify-write.

    remove deletes the lock file when the block ends (POSIX), so none is left in a user's folder.
    That is safe because a waiter that wins the lock on a file already removed notices and locks
    the new one. Raises TimeoutError (an OSError) naming the file when another process holds it
    past timeout.
    """
    remove = remove and os.name != "nt"
    deadline = time.monotonic() + timeout
    while True:
        handle = open(str(lock_path), "a+b")
        try:
            _lock_until(handle, lock_path, deadline)
        except BaseException:
            handle.close()
            raise
        if not remove or _is_current(handle, lock_path):
            break
        with contextlib.suppress(OSError):
            _unlock(handle)
        handle.close()
    try:
        yield
    finally:
        if remove:
            with contextlib.suppress(OSError):
                os.unlink(str(lock_path))
        with contextlib.suppress(OSError):
            _unlock(handle)
        handle.close()


@contextlib.contextmanager
def sibling_lock(path, suffix=".lock", timeout=10.0):
    """file_lock on ".<name><suffix>" beside path, removed afterwards. Where no lock file can be
    made (a read-only folder, a missing one) the block runs unlocked: it can only read there, and
    any write it tries fails with its own clear reason. Raises TimeoutError like file_lock."""
    path = Path(path)
    lock = Path(os.path.realpath(str(path.parent))) / ("." + path.name + suffix)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(lock, timeout, remove=True))
        except TimeoutError:
            raise
        except OSError:
            pass
        yield


def _lock_until(handle, lock_path, deadline):
    while True:
        try:
            _try_lock(handle)
            return
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
                raise
            if time.monotonic() > deadline:
                raise TimeoutError("{} is locked by another process; try again when it has "
                                   "finished".format(lock_path)) from None
            time.sleep(0.01)


def _is_current(handle, lock_path):
    """Is the locked file still the one at lock_path (not removed by the previous holder)?"""
    try:
        named = os.stat(str(lock_path))
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


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
