"""Specification of file writing: atomic replacement, never overwriting, locks, and where we refuse."""

import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import SCRIPTS
from qianwen_auth import fsutil
from qianwen_auth.fsutil import (
    SKILL_DIR, atomic_write_bytes, create_new_file, file_lock, skills_tree_reason,
)

POSIX = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes and symlinks")


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --- atomic_write_bytes ---------------------------------------------------------------------------------

def test_atomic_write_creates_a_new_file_with_mode_0600(tmp_path):
    path = tmp_path / ".env"
    atomic_write_bytes(path, b"A=1\n")
    assert path.read_bytes() == b"A=1\n"
    if os.name != "nt":
        assert mode_of(path) == 0o600


def test_atomic_write_replaces_content_byte_for_byte(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"old\r\n")
    atomic_write_bytes(path, b"\xef\xbb\xbfnew\r\nline\r")
    assert path.read_bytes() == b"\xef\xbb\xbfnew\r\nline\r"


@POSIX
def test_atomic_write_keeps_the_existing_mode(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write_bytes(path, b"new")
    assert mode_of(path) == 0o640


@POSIX
def test_atomic_write_applies_an_explicit_mode(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"old")
    path.chmod(0o644)
    atomic_write_bytes(path, b"new", mode=0o600)
    assert mode_of(path) == 0o600


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    atomic_write_bytes(tmp_path / ".env", b"A=1")
    atomic_write_bytes(tmp_path / ".env", b"A=2")
    assert leftovers(tmp_path, {".env"}) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_bytes(b"A=old\n")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"A=new\n")
    assert path.read_bytes() == b"A=old\n"
    assert leftovers(tmp_path, {".env"}) == []


def test_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_bytes(b"A=old\n")

    def failing_replace(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fsutil.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        atomic_write_bytes(path, b"A=new\n")
    assert path.read_bytes() == b"A=old\n"
    assert leftovers(tmp_path, {".env"}) == []


def test_interrupted_write_leaves_no_temporary_file(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / ".env", "text is not bytes")
    assert leftovers(tmp_path, set()) == []


@POSIX
def test_atomic_write_replaces_by_rename_not_in_place(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"old")
    reader = open(str(path), "rb")
    try:
        atomic_write_bytes(path, b"new content")
        assert reader.read() == b"old"   # an open reader still sees the whole old file
    finally:
        reader.close()
    assert path.read_bytes() == b"new content"


@POSIX
def test_atomic_write_through_a_symlink_updates_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "shared.env"
    target.write_bytes(b"A=old\n")
    target.chmod(0o640)
    link = tmp_path / ".env"
    link.symlink_to(target)
    atomic_write_bytes(link, b"A=new\n")
    assert link.is_symlink()
    assert target.read_bytes() == b"A=new\n"
    assert mode_of(target) == 0o640


def test_temporary_file_name_ends_with_the_given_suffix(tmp_path, monkeypatch):
    seen = []

    def failing_replace(source, target):
        seen.append(os.path.basename(source))
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil.os, "replace", failing_replace)
    with pytest.raises(OSError):
        atomic_write_bytes(tmp_path / ".env", b"A=1\n", temp_suffix=".tmp.env")
    assert seen[0].startswith("..env.") and seen[0].endswith(".tmp.env")
    assert fsutil.is_temp_file_of(tmp_path / seen[0], tmp_path / ".env", ".tmp.env")


@POSIX
def test_owner_that_cannot_be_kept_refuses_the_write(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_bytes(b"A=old\n")
    real_stat = os.stat

    class Foreign:
        def __init__(self, info):
            self.info = info

        def __getattr__(self, name):
            return {"st_uid": 4321, "st_gid": 4321}.get(name, getattr(self.info, name))

    def foreign_stat(name, *args, **kwargs):
        info = real_stat(name, *args, **kwargs)
        return Foreign(info) if str(name) == str(path) else info

    def refused_fchown(fd, uid, gid):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(fsutil.os, "stat", foreign_stat)
    monkeypatch.setattr(fsutil.os, "fchown", refused_fchown)
    with pytest.raises(fsutil.OwnerNotKept, match="4321"):
        atomic_write_bytes(path, b"A=new\n", keep_owner=True)
    assert path.read_bytes() == b"A=old\n"
    assert leftovers(tmp_path, {".env"}) == []


@POSIX
def test_termination_signal_becomes_an_exception_inside_the_block():
    import signal
    with pytest.raises(fsutil.Terminated) as stopped:
        with fsutil.terminate_as_exception():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert stopped.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@POSIX
def test_ignored_hangup_stays_ignored():
    import signal
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with fsutil.terminate_as_exception():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.skipif(not hasattr(os, "link"), reason="hard links")
def test_file_with_another_hard_link_is_not_rewritable(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=1\n")
    os.link(str(tmp_path / ".env"), str(tmp_path / "other"))
    assert "hard link" in fsutil.rewrite_refusal(tmp_path / ".env")


@POSIX
def test_file_without_write_permission_is_not_rewritable(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=1\n")
    os.chmod(str(tmp_path / ".env"), 0o444)
    assert "read-only" in fsutil.rewrite_refusal(tmp_path / ".env")


def test_ordinary_file_is_rewritable(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=1\n")
    assert fsutil.rewrite_refusal(tmp_path / ".env") is None


@POSIX
def test_script_command_is_absolute_when_the_current_folder_is_gone(tmp_path, monkeypatch):
    def gone():
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(fsutil.os, "getcwd", gone)
    assert fsutil.script_command("verify.py") == "python3 " + str(SKILL_DIR / "scripts" / "verify.py")


# --- create_new_file ------------------------------------------------------------------------------------

def test_create_new_file_writes_with_mode_0600(tmp_path):
    path = tmp_path / "verify-20240101T000000Z.json"
    create_new_file(path, b"{}")
    assert path.read_bytes() == b"{}"
    if os.name != "nt":
        assert mode_of(path) == 0o600


def test_create_new_file_never_overwrites(tmp_path):
    path = tmp_path / "evidence.json"
    path.write_bytes(b"earlier")
    with pytest.raises(FileExistsError):
        create_new_file(path, b"later")
    assert path.read_bytes() == b"earlier"


@POSIX
def test_create_new_file_does_not_follow_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    link = tmp_path / "evidence.json"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        create_new_file(link, b"data")
    assert not target.exists()


def test_create_new_file_removes_a_half_written_file(tmp_path):
    path = tmp_path / "evidence.json"
    with pytest.raises(TypeError):
        create_new_file(path, "text is not bytes")
    assert not path.exists()


# --- file_lock --------------------------------------------------------------------------------------------

COUNTER_WORKER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from qianwen_auth.fsutil import file_lock
    counter, lock, rounds = sys.argv[2], sys.argv[3], int(sys.argv[4])
    for _ in range(rounds):
        with file_lock(lock, timeout=20):
            value = int(open(counter).read())
            time.sleep(0.001)
            with open(counter, "w") as handle:
                handle.write(str(value + 1))
""")


def test_file_lock_serialises_processes(tmp_path):
    counter, lock = tmp_path / "counter", tmp_path / "counter.lock"
    counter.write_text("0")
    workers = [subprocess.Popen([sys.executable, "-c", COUNTER_WORKER, str(SCRIPTS), str(counter), str(lock), "25"])
               for _ in range(3)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0]
    assert counter.read_text() == "75"


def test_file_lock_times_out_with_a_clear_error(tmp_path):
    lock = tmp_path / ".env.lock"
    with file_lock(lock):
        with pytest.raises(TimeoutError, match="locked by another process"):
            with file_lock(lock, timeout=0.05):
                pass


def test_file_lock_is_released_after_the_block(tmp_path):
    lock = tmp_path / ".env.lock"
    with file_lock(lock):
        pass
    with file_lock(lock, timeout=0.05):
        pass


def test_file_lock_is_released_when_the_block_raises(tmp_path):
    lock = tmp_path / ".env.lock"
    with pytest.raises(RuntimeError):
        with file_lock(lock):
            raise RuntimeError("boom")
    with file_lock(lock, timeout=0.05):
        pass


def test_removable_lock_file_is_gone_after_the_block(tmp_path):
    lock = tmp_path / "..env.lock.env"
    with file_lock(lock, remove=True):
        assert lock.exists()
    assert not lock.exists()


REMOVING_WORKER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from qianwen_auth.fsutil import file_lock
    counter, lock, rounds = sys.argv[2], sys.argv[3], int(sys.argv[4])
    for _ in range(rounds):
        with file_lock(lock, timeout=20, remove=True):
            value = int(open(counter).read())
            time.sleep(0.001)
            with open(counter, "w") as handle:
                handle.write(str(value + 1))
""")


@POSIX
def test_removable_lock_still_serialises_processes(tmp_path):
    counter, lock = tmp_path / "counter", tmp_path / "counter.lock"
    counter.write_text("0")
    workers = [subprocess.Popen([sys.executable, "-c", REMOVING_WORKER, str(SCRIPTS), str(counter), str(lock),
                                 "25"]) for _ in range(3)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0]
    assert counter.read_text() == "75"


# --- skills_tree_reason --------------------------------------------------------------------------------------

def make_skill(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text("---\nname: x\n---\n")
    return folder


def test_this_skills_own_folder_is_refused():
    assert "this skill's own folder" in skills_tree_reason(SKILL_DIR / "output" / "verify.json")
    assert skills_tree_reason(SKILL_DIR) is not None


def test_skill_dir_is_the_folder_holding_skill_md():
    assert (SKILL_DIR / "SKILL.md").is_file()
    assert (SKILL_DIR / "scripts" / "qianwen_auth").is_dir()


@pytest.mark.parametrize("agent_folder", [".claude", ".agents", ".codex", ".qwen", ".cursor", ".github"])
def test_agent_skills_folder_is_refused_even_when_empty(tmp_path, agent_folder):
    path = tmp_path / "project" / agent_folder / "skills" / "anything" / "out.json"
    assert "agent's skills folder" in skills_tree_reason(path)


def test_agent_skills_folder_in_home_is_refused(tmp_path):
    make_skill(tmp_path / "home" / ".claude" / "skills" / "qianwen-ops-auth")
    path = tmp_path / "home" / ".claude" / "skills" / "qianwen-ops-auth" / "output" / "v.json"
    assert skills_tree_reason(path) is not None


def test_the_skills_folder_itself_is_refused(tmp_path):
    assert skills_tree_reason(tmp_path / ".agents" / "skills") is not None


def test_skills_folder_holding_skill_folders_is_refused(tmp_path):
    make_skill(tmp_path / "repo" / "skills" / "some-skill")
    assert "skills tree" in skills_tree_reason(tmp_path / "repo" / "skills" / "output" / "v.json")
    assert skills_tree_reason(tmp_path / "repo" / "skills" / "some-skill" / "out" / "v.json") is not None


def test_ordinary_project_folder_is_allowed(tmp_path):
    make_skill(tmp_path / "repo" / "skills" / "some-skill")
    assert skills_tree_reason(tmp_path / "repo" / "output" / "qianwen-ops-auth" / "v.json") is None


def test_folder_merely_named_skills_without_skills_in_it_is_allowed(tmp_path):
    notes = tmp_path / "docs" / "skills"
    (notes / "python").mkdir(parents=True)
    (notes / "python" / "README.md").write_text("notes")
    assert skills_tree_reason(notes / "output" / "v.json") is None


def test_skill_md_in_the_skills_folder_itself_does_not_make_a_tree(tmp_path):
    folder = tmp_path / "project" / "skills"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("a document, not a skill folder")
    assert skills_tree_reason(folder / "output" / "v.json") is None


def test_dot_folders_other_than_a_skills_folder_are_allowed(tmp_path):
    assert skills_tree_reason(tmp_path / "project" / ".claude" / "output" / "v.json") is None
    assert skills_tree_reason(tmp_path / "project" / ".git-skills" / "v.json") is None


def test_relative_path_is_judged_from_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / ".claude" / "skills").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / ".claude" / "skills")
    assert skills_tree_reason("output/v.json") is not None


@POSIX
def test_symlink_into_a_skills_tree_is_refused(tmp_path):
    real = tmp_path / "home" / ".claude" / "skills" / "x"
    real.mkdir(parents=True)
    link = tmp_path / "project" / "output"
    link.parent.mkdir()
    link.symlink_to(real)
    assert skills_tree_reason(link / "v.json") is not None


def test_reason_names_the_folder(tmp_path):
    assert str(tmp_path / ".claude" / "skills") in skills_tree_reason(tmp_path / ".claude" / "skills" / "a")


# --- read_small_file -------------------------------------------------------------------------------

def test_read_small_file_returns_the_bytes_of_a_file_at_the_limit(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)
    assert fsutil.read_small_file(path, limit=10) == b"x" * 10


def test_read_small_file_refuses_a_sparse_file_over_the_limit_without_reading_it(tmp_path):
    path = tmp_path / "f"
    with open(str(path), "wb") as handle:
        handle.truncate(8 * 1024 ** 3)
    with pytest.raises(fsutil.FileNotRead, match="8589934592 bytes; a state file over 1048576"):
        fsutil.read_small_file(path, what="state file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_read_small_file_refuses_a_named_pipe_without_blocking(tmp_path):
    os.mkfifo(str(tmp_path / "pipe"))
    with pytest.raises(fsutil.FileNotRead, match="not a regular file"):
        fsutil.read_small_file(tmp_path / "pipe")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_read_small_file_refuses_a_device():
    with pytest.raises(fsutil.FileNotRead, match="not a regular file"):
        fsutil.read_small_file("/dev/zero")


def test_read_small_file_refuses_a_folder_naming_what_was_expected(tmp_path):
    with pytest.raises(fsutil.FileNotRead, match="is a directory, not a state file"):
        fsutil.read_small_file(tmp_path, what="state file")


def test_read_small_file_lets_a_missing_file_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fsutil.read_small_file(tmp_path / "missing")


def test_agent_skills_folders_are_recognised_in_any_letter_case(tmp_path):
    from qianwen_auth.fsutil import skills_tree_reason
    assert skills_tree_reason(tmp_path / ".CLAUDE" / "SKILLS" / "y" / ".env")
    assert skills_tree_reason(tmp_path / ".Agents" / "Skills" / "x")
