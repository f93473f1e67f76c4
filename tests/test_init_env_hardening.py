"""Black-box tests of init_env.py against hostile or unusual surroundings: stdin that is not a plain
pipe, files git would commit, interrupted and concurrent runs, files we must not rewrite."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import CANARY_KEY, SCRIPTS, base_environment, find_leaks
from gitrepo import git, make_repo
from qianwen_auth.fsutil import file_lock
from qianwen_auth.keys import fingerprint

PLACEHOLDER_LINE = b"DASHSCOPE_API_KEY=sk-your-key-here\n"
KEY_LINE = "DASHSCOPE_API_KEY={}\n".format(CANARY_KEY).encode()
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX only")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")


def init_env(run_script, *args, **kwargs):
    return run_script("init_env.py", *args, **kwargs)


def commit(folder, *paths):
    git(folder, "add", "--", *paths)
    git(folder, "commit", "-q", "-m", "add")


def spawn(args, cwd, home, **kwargs):
    return subprocess.Popen([sys.executable, str(SCRIPTS / "init_env.py")] + list(args), cwd=str(cwd),
                            env=base_environment(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kwargs)


def finish(process, timeout=30):
    stdout, stderr = process.communicate(timeout=timeout)
    output = (stdout + stderr).decode("utf-8", "replace")
    assert not find_leaks(output), output
    assert "Traceback" not in output, output
    return process.returncode, stdout.decode("utf-8", "replace"), output


# --- 1. standard input that is a non-blocking pipe -------------------------------------------------

@posix_only
def test_non_blocking_pipe_is_read_until_its_writer_closes_it(project, home):
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    process = spawn(["--from-stdin", "--json", "--no-gitignore"], project, home, stdin=read_end)
    os.close(read_end)
    os.write(write_end, CANARY_KEY[:15].encode())
    time.sleep(0.6)
    os.write(write_end, CANARY_KEY[15:].encode() + b"\n")
    os.close(write_end)
    code, stdout, _ = finish(process)
    assert code == 0
    assert json.loads(stdout)["key"]["fingerprint"] == fingerprint(CANARY_KEY)
    assert (project / ".env").read_bytes() == KEY_LINE


# --- 2. a real key only where git will not commit it -------------------------------------------------

@needs_git
@pytest.mark.parametrize("name", [".env.example", "config.txt"])
def test_key_is_not_written_to_a_file_git_does_not_ignore(run_script, project, name):
    make_repo(project)
    result = init_env(run_script, "--from-stdin", "--path", name, "--json", input=CANARY_KEY)
    assert result.returncode == 2
    assert result.json["status"] == "refused"
    assert "not ignore" in result.json["message"]
    assert not (project / name).exists()


@needs_git
def test_key_is_not_written_to_a_tracked_env(run_script, project):
    make_repo(project)
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    commit(project, ".env")
    result = init_env(run_script, "--from-stdin", "--json", input=CANARY_KEY)
    assert result.returncode == 2
    assert "tracked by git" in result.json["message"]
    assert "git rm --cached -- .env" in result.json["message"]
    assert (project / ".env").read_bytes() == PLACEHOLDER_LINE


@needs_git
def test_key_is_not_written_when_no_gitignore_leaves_env_unignored(run_script, project):
    make_repo(project)
    result = init_env(run_script, "--from-stdin", "--no-gitignore", "--json", input=CANARY_KEY)
    assert result.returncode == 2
    assert not (project / ".env").exists()


@needs_git
def test_key_is_written_to_env_once_the_gitignore_covers_it(run_script, project):
    make_repo(project)
    result = init_env(run_script, "--from-stdin", "--json", input=CANARY_KEY, allow_key_in=[project / ".env"])
    assert result.returncode == 0, result.output
    assert result.json["gitignore"]["ignored"] is True
    assert (project / ".env").read_bytes() == KEY_LINE


def test_without_git_a_key_is_not_written_to_a_name_the_patterns_miss(run_script, project):
    result = init_env(run_script, "--from-stdin", "--path", "config.txt", "--json", input=CANARY_KEY)
    assert result.returncode == 2
    assert ".gitignore" in result.json["message"]
    assert not (project / "config.txt").exists()


def test_without_git_a_visible_gitignore_line_allows_another_name(run_script, project):
    (project / ".gitignore").write_bytes(b"config.txt\n")
    result = init_env(run_script, "--from-stdin", "--path", "config.txt", "--json", input=CANARY_KEY,
                      allow_key_in=[project / "config.txt"])
    assert result.returncode == 0, result.output
    assert (project / "config.txt").read_bytes() == KEY_LINE


# --- 3. temporary files ------------------------------------------------------------------------------

SIGTERM_DRIVER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[1])
    import init_env
    real_fsync = os.fsync
    def fsync(fd):
        os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(fd)
    os.fsync = fsync
    raise SystemExit(init_env.main(sys.argv[2:]))
""")


@posix_only
def test_sigterm_during_the_write_leaves_no_temporary_file(project, home):
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    completed = subprocess.run([sys.executable, "-c", SIGTERM_DRIVER, str(SCRIPTS), "--from-stdin",
                                "--no-gitignore", "--json"], cwd=str(project), env=base_environment(home),
                               input=CANARY_KEY.encode(), capture_output=True, timeout=30)
    output = (completed.stdout + completed.stderr).decode()
    assert not find_leaks(output) and "Traceback" not in output, output
    assert completed.returncode == 128 + signal.SIGTERM
    assert json.loads(completed.stdout)["status"] == "failed"
    assert sorted(path.name for path in project.iterdir()) == [".env"]
    assert (project / ".env").read_bytes() == PLACEHOLDER_LINE


def test_stale_temporary_file_of_ours_is_removed_with_a_warning(run_script, project):
    stale = project / "..env.abcd1234.tmp.env"
    stale.write_bytes(KEY_LINE)
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    result = init_env(run_script, "--no-gitignore")
    assert result.returncode == 0
    assert not stale.exists()
    assert "..env.abcd1234.tmp.env" in result.stderr


def test_stale_temporary_file_of_an_earlier_version_is_removed(run_script, project):
    stale = project / "..env.abcd1234.tmp"
    stale.write_bytes(KEY_LINE)
    init_env(run_script, "--no-gitignore")
    assert not stale.exists()


def test_unrelated_files_next_to_env_are_kept(run_script, project):
    (project / "..env.backup").write_bytes(b"keep\n")
    (project / ".other.abcd1234.tmp.env").write_bytes(b"keep\n")
    init_env(run_script, "--no-gitignore")
    assert (project / "..env.backup").exists() and (project / ".other.abcd1234.tmp.env").exists()


# --- 4. concurrent runs --------------------------------------------------------------------------------

def test_run_waiting_for_the_lock_rereads_the_file_and_keeps_a_key_written_meanwhile(project, home):
    (project / ".git").mkdir()
    (project / ".env").write_bytes(b"A=1\n")
    with file_lock(str(project / "..env.lock.env")):
        process = spawn(["--json"], project, home, stdin=subprocess.DEVNULL)
        time.sleep(0.8)
        (project / ".env").write_bytes(b"A=1\n" + KEY_LINE)
    code, stdout, _ = finish(process)
    assert code == 0
    assert json.loads(stdout)["status"] == "already_set"
    assert (project / ".env").read_bytes() == b"A=1\n" + KEY_LINE


def test_lock_file_is_removed_after_the_run(run_script, project):
    init_env(run_script, "--no-gitignore")
    assert sorted(path.name for path in project.iterdir()) == [".env"]


@needs_git
def test_ten_concurrent_runs_all_succeed_and_add_each_pattern_once(project, home):
    make_repo(project)
    processes = [spawn(["--json"], project, home, stdin=subprocess.DEVNULL) for _ in range(10)]
    results = [finish(process, timeout=60) for process in processes]
    assert [code for code, _, _ in results] == [0] * 10, [output for _, _, output in results]
    assert (project / ".gitignore").read_bytes() == b".env\n.env.local\n*.env\n"
    assert (project / ".env").read_bytes() == PLACEHOLDER_LINE
    assert sorted(path.name for path in project.iterdir()) == [".env", ".git", ".gitignore"]


# --- 5. ownership and hard links -----------------------------------------------------------------------

@as_root
def test_rewrite_as_root_keeps_the_owner_of_the_env_file(run_script, project):
    (project / ".env").write_bytes(b"A=1\n")
    os.chown(str(project / ".env"), 1234, 1234)
    result = init_env(run_script, "--no-gitignore")
    assert result.returncode == 0
    info = os.stat(str(project / ".env"))
    assert (info.st_uid, info.st_gid) == (1234, 1234)


@as_root
def test_rewrite_as_root_keeps_the_owner_of_the_gitignore(run_script, project):
    (project / ".git").mkdir()
    (project / ".gitignore").write_bytes(b"build/\n")
    os.chown(str(project / ".gitignore"), 1234, 1234)
    init_env(run_script)
    info = os.stat(str(project / ".gitignore"))
    assert (info.st_uid, info.st_gid) == (1234, 1234)


@pytest.mark.skipif(not hasattr(os, "link"), reason="hard links")
def test_env_with_another_hard_link_is_refused(run_script, project):
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    os.link(str(project / ".env"), str(project / "copy"))
    result = init_env(run_script, "--from-stdin", "--no-gitignore", "--json", input=CANARY_KEY)
    assert result.returncode == 2
    assert "hard link" in result.json["message"]
    assert (project / "copy").read_bytes() == PLACEHOLDER_LINE
    assert os.stat(str(project / ".env")).st_nlink == 2


# --- 6. read-only .env ---------------------------------------------------------------------------------

@posix_only
def test_read_only_env_is_not_rewritten(run_script, project):
    (project / ".env").write_bytes(b"A=1\n")
    os.chmod(str(project / ".env"), 0o444)
    result = init_env(run_script, "--no-gitignore", "--json")
    assert result.returncode == 1
    assert result.json["status"] == "failed"
    assert "read-only" in result.json["message"]
    assert (project / ".env").read_bytes() == b"A=1\n"


# --- 7. .gitignore edits -------------------------------------------------------------------------------

@needs_git
def test_nested_negation_does_not_add_the_line_again_on_every_run(run_script, project):
    make_repo(project)
    (project / "app").mkdir()
    (project / ".gitignore").write_bytes(b".env\n.env.local\n*.env\n")
    (project / "app" / ".gitignore").write_bytes(b"!.env\n")
    init_env(run_script, "--path", "app/.env")
    init_env(run_script, "--path", "app/.env")
    assert (project / ".gitignore").read_bytes() == b".env\n.env.local\n*.env\n"


@needs_git
def test_env_git_still_does_not_ignore_is_a_failure_naming_the_rule(run_script, project):
    make_repo(project)
    (project / "app").mkdir()
    (project / "app" / ".gitignore").write_bytes(b"!.env\n")
    result = init_env(run_script, "--path", "app/.env", "--json")
    assert result.returncode == 1
    assert result.json["gitignore"]["ignored"] is False
    assert "app/.gitignore" in result.json["gitignore"]["error"]


@needs_git
def test_cr_only_gitignore_gets_lines_git_reads(run_script, project):
    make_repo(project)
    (project / ".gitignore").write_bytes(b"build/\rdist/\r")
    result = init_env(run_script, "--json")
    assert result.returncode == 0, result.output
    assert (project / ".gitignore").read_bytes() == b"build/\rdist/\r\n.env\n.env.local\n*.env\n"
    assert result.json["gitignore"]["ignored"] is True


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_symlinked_gitignore_message_says_git_does_not_read_it(run_script, project, tmp_path):
    (project / ".git").mkdir()
    (tmp_path / "shared-ignore").write_bytes(b"")
    os.symlink(str(tmp_path / "shared-ignore"), str(project / ".gitignore"))
    result = init_env(run_script, "--json")
    assert result.returncode == 1
    assert "real file" in result.json["gitignore"]["error"]
    assert (tmp_path / "shared-ignore").read_bytes() == b""


# --- 9. deleted working folder -------------------------------------------------------------------------

@posix_only
def test_deleted_working_folder_is_refused_before_anything_is_written(project, home, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    driver = "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); os.execv(sys.executable, " \
             "[sys.executable] + sys.argv[2:])"
    completed = subprocess.run([sys.executable, "-c", driver, str(gone), str(SCRIPTS / "init_env.py"),
                                "--path", str(project / ".env"), "--json"],
                               env=base_environment(home), capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2, completed.stderr
    assert "current folder" in json.loads(completed.stdout)["message"]
    assert "internal error" not in completed.stdout + completed.stderr
    assert not (project / ".env").exists()


# --- 10. a key given as --path --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [CANARY_KEY, "app/" + CANARY_KEY + ".env", "Zq8Wx3Rt7Yp2Lm9Kj4Hg6Fd1Sa5Qe0Nv"])
def test_path_that_looks_like_a_key_is_refused_without_creating_it(run_script, project, path):
    result = init_env(run_script, "--path", path, "--json")
    assert result.returncode == 2
    assert "looks like an API key" in result.json["message"]
    assert list(project.iterdir()) == []


def test_ordinary_paths_are_not_mistaken_for_keys(run_script, project):
    (project / "my-app_2024").mkdir()
    assert init_env(run_script, "--path", "my-app_2024/local.env", "--no-gitignore").returncode == 0


# --- 11. one JSON object on every path ------------------------------------------------------------------

def test_usage_error_with_stderr_closed_still_exits_2(project, home):
    completed = subprocess.run("'{}' '{}' --bogus --json 2>&-".format(sys.executable, SCRIPTS / "init_env.py"),
                               shell=True, cwd=str(project), env=base_environment(home), capture_output=True,
                               timeout=30)
    assert completed.returncode == 2
    assert json.loads(completed.stdout)["exit_code"] == 2


@posix_only
def test_usage_error_into_a_closed_pipe_still_exits_2(project, home):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run([sys.executable, str(SCRIPTS / "init_env.py"), "--bogus", "--json"],
                                   cwd=str(project), env=base_environment(home), stdout=write_end,
                                   stderr=write_end, timeout=30)
    finally:
        os.close(write_end)
    assert completed.returncode == 2


# --- 12. what is remembered as a secret --------------------------------------------------------------------

def test_refused_text_on_stdin_does_not_garble_unrelated_output(run_script):
    pasted = "copy it from platform.qianwenai.com then paste {} here\n".format(CANARY_KEY)
    result = init_env(run_script, "--from-stdin", input=pasted)
    assert result.returncode == 2
    assert "https://platform.qianwenai.com/home/api-keys" in result.stdout
    assert "***platform" not in result.stdout


# --- 13. messages ---------------------------------------------------------------------------------------

def test_closed_stdin_is_called_closed_not_a_terminal(project, home):
    completed = subprocess.run("'{}' '{}' --from-stdin --json <&-".format(sys.executable, SCRIPTS / "init_env.py"),
                               shell=True, cwd=str(project), env=base_environment(home), capture_output=True,
                               text=True, timeout=30)
    message = json.loads(completed.stdout)["message"]
    assert completed.returncode == 2
    assert "closed" in message and "terminal" not in message


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_symlink_loop_is_called_a_loop(run_script, project):
    os.symlink(".env", str(project / ".env"))
    result = init_env(run_script, "--json")
    assert result.returncode == 2
    assert "loop" in result.json["message"]
    assert "does not exist" not in result.json["message"]


def test_colour_codes_around_a_piped_key_are_called_control_characters(run_script, project):
    result = init_env(run_script, "--from-stdin", "--json", input="\x1b[31m{}\x1b[0m\n".format(CANARY_KEY))
    assert result.returncode == 2
    assert "control character" in result.json["message"]
    assert "placeholder" not in result.json["message"]
    assert not (project / ".env").exists()


def test_placeholder_with_a_glued_comment_counts_as_the_placeholder(run_script, project):
    (project / ".env").write_bytes(b"DASHSCOPE_API_KEY=sk-your-key-here#todo\n")
    result = init_env(run_script, "--no-gitignore", "--json")
    assert result.json["status"] == "placeholder_present"


def test_refusal_examples_name_the_script_as_it_can_be_run_from_here(project, home):
    completed = subprocess.run("'{}' '{}' --from-stdin --json <&-".format(sys.executable, SCRIPTS / "init_env.py"),
                               shell=True, cwd=str(project), env=base_environment(home), capture_output=True,
                               text=True, timeout=30)
    assert "| python3 {} --from-stdin".format(SCRIPTS / "init_env.py") in json.loads(completed.stdout)["message"]


# --- 14. trailing blanks, and no .gitignore outside a repository -----------------------------------------

def test_replacing_the_placeholder_keeps_blanks_after_the_value(run_script, project):
    (project / ".env").write_bytes(b"\tDASHSCOPE_API_KEY\t=\tsk-your-key-here\t\n")
    init_env(run_script, "--from-stdin", "--no-gitignore", input=CANARY_KEY, allow_key_in=[project / ".env"])
    assert (project / ".env").read_bytes() == "\tDASHSCOPE_API_KEY\t=\t{}\t\n".format(CANARY_KEY).encode()


def test_no_gitignore_is_created_outside_a_repository(run_script, project):
    result = init_env(run_script, "--json")
    assert result.returncode == 0
    assert not (project / ".gitignore").exists()
    assert result.json["gitignore"]["skipped"] == "not a git repository"


def test_text_output_says_the_gitignore_was_skipped_outside_a_repository(run_script):
    assert "Gitignore: skipped (not a git repository)" in init_env(run_script).stdout


# --- 15. git cannot run the repository's code -------------------------------------------------------------

@needs_git
@posix_only
def test_repository_fsmonitor_is_never_run(run_script, project, tmp_path):
    make_repo(project)
    marker = tmp_path / "fsmonitor-ran"
    hook = tmp_path / "hook.sh"
    hook.write_text("#!/bin/sh\ntouch '{}'\n".format(marker))
    hook.chmod(0o755)
    git(project, "config", "core.fsmonitor", str(hook))
    init_env(run_script)
    assert not marker.exists()


@needs_git
def test_placeholder_in_a_name_git_does_not_ignore_is_a_failure_saying_which_line_to_add(run_script, project):
    make_repo(project)
    result = init_env(run_script, "--path", "config.txt", "--json")
    assert result.returncode == 1
    assert result.json["status"] == "created"
    assert "Add a line for it to .gitignore" in result.json["gitignore"]["error"]


@posix_only
def test_gitignore_that_is_a_named_pipe_is_reported_without_blocking(run_script, project):
    (project / ".git").mkdir()
    os.mkfifo(str(project / ".gitignore"))
    result = init_env(run_script, "--json", timeout=20)
    assert result.returncode == 1
    assert "not a regular file" in result.json["gitignore"]["error"]


def test_piping_the_same_key_cleans_a_badly_pasted_line(run_script, project):
    env_file = project / ".env"
    env_file.write_text('DASHSCOPE_API_KEY=Bearer "{}"\n'.format(CANARY_KEY))
    os.chmod(str(env_file), 0o600)
    result = run_script("init_env.py", "--from-stdin", "--no-gitignore", "--json",
                        input=CANARY_KEY + "\n", allow_key_in=[env_file])
    assert result.json["status"] == "written"
    assert env_file.read_text() == "DASHSCOPE_API_KEY={}\n".format(CANARY_KEY)


def test_a_badly_pasted_key_line_is_reported(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY='{} '\n".format(CANARY_KEY))
    result = run_script("init_env.py", "--no-gitignore")
    assert "needs cleaning" in result.stderr


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_readable_dotenv_with_a_key_makes_fix_permissions_the_next_step(run_script, project):
    env_file = project / ".env"
    env_file.write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    os.chmod(str(env_file), 0o644)
    result = run_script("init_env.py", "--no-gitignore", "--json")
    assert "--fix-permissions" in result.json["next_step"]
