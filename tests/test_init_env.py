"""Black-box tests of init_env.py: run as an agent would, in temporary folders, with real git."""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from conftest import CANARY_KEY, CANARY_KEY_OTHER, CANARY_TOKEN_PLAN_KEY, SCRIPTS, secret_pieces
from gitrepo import git, make_repo
from qianwen_auth.fsutil import SKILL_DIR
from qianwen_auth.keys import fingerprint

PLACEHOLDER_LINE = b"DASHSCOPE_API_KEY=sk-your-key-here\n"
GITIGNORE_LINES = b".env\n.env.local\n*.env\n"
posix_only = pytest.mark.skipif(os.name == "nt", reason="file modes are POSIX only")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def init_env(run_script, *args, **kwargs):
    return run_script("init_env.py", *args, **kwargs)


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


# --- the .env file -------------------------------------------------------------------------------

def test_empty_folder_gets_placeholder_env_and_gitignore(run_script, project):
    (project / ".git").mkdir()
    result = init_env(run_script)
    assert result.returncode == 0, result.output
    assert (project / ".env").read_bytes() == PLACEHOLDER_LINE
    assert (project / ".gitignore").read_bytes() == GITIGNORE_LINES
    assert "Status:    created (exit 0)" in result.stdout


def test_next_step_names_the_console_and_verify_py(run_script):
    result = init_env(run_script)
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.startswith("Next:")
    assert "https://platform.qianwenai.com/home/api-keys" in last_line
    assert "verify.py" in last_line


@posix_only
def test_new_env_file_is_owner_only(run_script, project):
    init_env(run_script)
    assert mode_of(project / ".env") == 0o600


def test_var_option_names_the_new_line(run_script, project):
    init_env(run_script, "--var", "QIANWEN_API_KEY")
    assert (project / ".env").read_bytes() == b"QIANWEN_API_KEY=sk-your-key-here\n"


def test_path_option_targets_another_file(run_script, project):
    (project / "app").mkdir()
    result = init_env(run_script, "--path", "app/.env", "--json")
    assert result.json["path"] == str(project / "app" / ".env")
    assert (project / "app" / ".env").read_bytes() == PLACEHOLDER_LINE
    assert not (project / ".env").exists()


def test_placeholder_is_appended_keeping_every_other_byte(run_script, project):
    before = b"# settings\nQWEN_BASE_URL=https://example.invalid\n\nOTHER='a b' # note\n"
    (project / ".env").write_bytes(before)
    result = init_env(run_script, "--json")
    assert result.json["status"] == "appended"
    assert (project / ".env").read_bytes() == before + PLACEHOLDER_LINE


def test_missing_final_newline_is_added_before_the_placeholder(run_script, project):
    (project / ".env").write_bytes(b"A=1")
    init_env(run_script)
    assert (project / ".env").read_bytes() == b"A=1\n" + PLACEHOLDER_LINE


def test_crlf_file_gets_a_crlf_line(run_script, project):
    (project / ".env").write_bytes(b"# windows\r\nA=1")
    init_env(run_script)
    assert (project / ".env").read_bytes() == b"# windows\r\nA=1\r\nDASHSCOPE_API_KEY=sk-your-key-here\r\n"


def test_bom_is_kept(run_script, project):
    (project / ".env").write_bytes(b"\xef\xbb\xbfA=1\n")
    init_env(run_script)
    assert (project / ".env").read_bytes() == b"\xef\xbb\xbfA=1\n" + PLACEHOLDER_LINE


def test_placeholder_after_an_unclosed_quote_is_still_read(run_script, project):
    (project / ".env").write_bytes(b"A=\"never closed\n")
    result = init_env(run_script, "--json")
    assert result.json["status"] == "appended"
    assert (project / ".env").read_bytes() == b"A=\"never closed\n" + PLACEHOLDER_LINE
    assert init_env(run_script, "--json").json["status"] == "placeholder_present"


def test_commented_out_key_does_not_count_as_assigned(run_script, project):
    (project / ".env").write_bytes(b"# DASHSCOPE_API_KEY=sk-old\n")
    result = init_env(run_script, "--json")
    assert result.json["status"] == "appended"


@posix_only
def test_appending_keeps_the_existing_mode(run_script, project):
    (project / ".env").write_bytes(b"A=1\n")
    os.chmod(str(project / ".env"), 0o640)
    init_env(run_script)
    assert mode_of(project / ".env") == 0o640


@pytest.mark.parametrize("line", [
    "export QIANWEN_API_KEY={}\n",
    "DASHSCOPE_API_KEY = \"{}\"  # from the console\n",
    "DASHSCOPE_API_KEY='{}'\n",
])
def test_existing_key_is_reported_masked_and_left_alone(run_script, project, line):
    before = ("A=1\n" + line.format(CANARY_KEY)).encode()
    (project / ".env").write_bytes(before)
    result = init_env(run_script, "--json")
    data = result.json
    assert data["status"] == "already_set"
    assert data["key"]["set"] is True
    assert data["key"]["type"] == "standard"
    assert data["key"]["fingerprint"] == fingerprint(CANARY_KEY)
    assert data["key"]["source"] == "dotenv:{}".format(project / ".env")
    assert (project / ".env").read_bytes() == before


def test_existing_token_plan_key_is_reported_as_such(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_TOKEN_PLAN_KEY))
    assert init_env(run_script, "--json").json["key"]["type"] == "token_plan"


def test_placeholder_already_present_changes_nothing(run_script, project):
    (project / ".env").write_bytes(b"QIANWEN_API_KEY=sk-your-key-here\r\n")
    result = init_env(run_script, "--json")
    assert result.json["status"] == "placeholder_present"
    assert result.json["key"]["placeholder"] is True
    assert (project / ".env").read_bytes() == b"QIANWEN_API_KEY=sk-your-key-here\r\n"


def test_running_twice_gives_the_same_files_as_running_once(run_script, project):
    (project / ".env").write_bytes(b"A=1")
    (project / ".gitignore").write_bytes(b"node_modules")
    init_env(run_script)
    once = ((project / ".env").read_bytes(), (project / ".gitignore").read_bytes())
    second = init_env(run_script, "--json")
    assert second.json["status"] == "placeholder_present"
    assert ((project / ".env").read_bytes(), (project / ".gitignore").read_bytes()) == once


def test_text_output_is_a_few_short_lines(run_script):
    result = init_env(run_script)
    assert 4 <= len(result.stdout.strip().splitlines()) <= 7


def test_json_output_is_one_object_with_the_documented_fields(run_script, project):
    data = json.loads(init_env(run_script, "--json").stdout)
    assert {"status", "ok", "exit_code", "path", "gitignore", "permissions", "key", "next_step"} <= set(data)
    assert set(data["gitignore"]) >= {"path", "added", "tracked_env"}
    assert data["gitignore"]["path"] == str(project / ".gitignore")


def test_exported_variable_is_named_as_taking_priority(run_script):
    result = init_env(run_script, env={"DASHSCOPE_API_KEY": CANARY_KEY})
    assert "DASHSCOPE_API_KEY is set and takes priority" in result.stderr


def test_duplicate_assignments_are_reported(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY=sk-your-key-here\nDASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    result = init_env(run_script, "--json")
    assert result.json["key"]["line"] == 2
    assert any("2 times" in warning for warning in result.json["warnings"])


# --- permissions ---------------------------------------------------------------------------------

@posix_only
def test_readable_env_is_reported_but_not_changed(run_script, project):
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    os.chmod(str(project / ".env"), 0o644)
    result = init_env(run_script, "--json")
    assert result.json["permissions"] == {"mode": "0644", "too_open": True, "fixed": False}
    assert "--fix-permissions" in result.stderr
    assert mode_of(project / ".env") == 0o644


@posix_only
def test_fix_permissions_makes_env_owner_only(run_script, project):
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    os.chmod(str(project / ".env"), 0o664)
    result = init_env(run_script, "--fix-permissions", "--json")
    assert result.json["permissions"] == {"mode": "0600", "too_open": True, "fixed": True}
    assert mode_of(project / ".env") == 0o600


# --- .gitignore ----------------------------------------------------------------------------------

def test_gitignore_without_final_newline_gets_one_before_new_lines(run_script, project):
    (project / ".gitignore").write_bytes(b"node_modules")
    init_env(run_script)
    assert (project / ".gitignore").read_bytes() == b"node_modules\n" + GITIGNORE_LINES


def test_crlf_gitignore_stays_crlf(run_script, project):
    (project / ".gitignore").write_bytes(b"build/\r\n")
    init_env(run_script)
    assert (project / ".gitignore").read_bytes() == b"build/\r\n.env\r\n.env.local\r\n*.env\r\n"


def test_only_missing_patterns_are_added(run_script, project):
    (project / ".gitignore").write_bytes(b".env\n# local\n*.env  \n")
    result = init_env(run_script, "--json")
    assert result.json["gitignore"]["added"] == [".env.local"]
    assert (project / ".gitignore").read_bytes() == b".env\n# local\n*.env  \n.env.local\n"


def test_no_gitignore_option_leaves_gitignore_alone(run_script, project):
    result = init_env(run_script, "--no-gitignore", "--json")
    assert result.json["gitignore"] is None
    assert not (project / ".gitignore").exists()


def test_gitignore_that_is_a_directory_is_a_failure_without_traceback(run_script, project):
    (project / ".gitignore").mkdir()
    result = init_env(run_script, "--json")
    assert result.returncode == 1
    assert result.json["status"] == "created"
    assert "directory" in result.json["gitignore"]["error"]
    assert (project / ".env").read_bytes() == PLACEHOLDER_LINE


@needs_git
def test_git_repo_root_holds_the_gitignore_for_a_nested_env(run_script, project):
    make_repo(project)
    (project / "app").mkdir()
    result = init_env(run_script, "--json", cwd=project / "app")
    assert result.json["gitignore"]["path"] == str(project / ".gitignore")
    assert result.json["gitignore"]["checked_with"] == "git"
    assert result.json["gitignore"]["ignored"] is True
    assert not (project / "app" / ".gitignore").exists()


@needs_git
def test_git_decides_which_patterns_are_already_covered(run_script, project):
    make_repo(project)
    (project / ".gitignore").write_bytes(b".env*\n")
    result = init_env(run_script, "--json")
    assert result.json["gitignore"]["added"] == ["*.env"]
    assert (project / ".gitignore").read_bytes() == b".env*\n*.env\n"


@needs_git
def test_without_git_on_path_lines_are_compared(run_script, project, tmp_path):
    make_repo(project)
    (project / ".gitignore").write_bytes(b".env*\n")
    no_git = tmp_path / "bin"
    no_git.mkdir()
    result = init_env(run_script, "--json", env={"PATH": str(no_git)})
    assert result.json["gitignore"]["checked_with"] == "lines"
    assert result.json["gitignore"]["added"] == [".env", ".env.local", "*.env"]


@needs_git
def test_tracked_env_is_a_loud_warning_with_the_untrack_command(run_script, project):
    make_repo(project)
    (project / ".env").write_bytes(b"A=1\n")
    git(project, "add", ".env")
    git(project, "commit", "-q", "-m", "add env")
    result = init_env(run_script, "--json")
    assert result.returncode == 0
    assert result.json["gitignore"]["tracked_env"] is True
    assert result.json["gitignore"]["untrack_command"] == "git rm --cached -- .env"
    assert "leaked" in result.stderr and "git rm --cached -- .env" in result.stderr
    assert git(project, "ls-files", ".env").stdout.strip() == b".env"  # printed, not run


@needs_git
def test_tracked_env_makes_rotation_the_next_step(run_script, project):
    make_repo(project)
    (project / ".env").write_bytes(PLACEHOLDER_LINE)
    git(project, "add", ".env")
    git(project, "commit", "-q", "-m", "add env")
    next_line = init_env(run_script).stdout.strip().splitlines()[-1]
    assert "git rm --cached -- .env" in next_line and "leaked" in next_line


@needs_git
def test_untracked_env_in_a_repo_is_not_reported_as_tracked(run_script, project):
    make_repo(project)
    result = init_env(run_script, "--json")
    assert result.json["gitignore"]["tracked_env"] is False
    assert "WARNING" not in result.stderr


# --- refusals and failures -----------------------------------------------------------------------

def test_agent_skills_folder_is_refused(run_script, project):
    folder = project / ".claude" / "skills" / "some-skill"
    folder.mkdir(parents=True)
    result = init_env(run_script, "--json", cwd=folder)
    assert result.returncode == 2
    assert result.json["status"] == "refused"
    assert list(folder.iterdir()) == []


def test_skills_tree_with_skill_folders_is_refused(run_script, project):
    (project / "skills" / "one").mkdir(parents=True)
    (project / "skills" / "one" / "SKILL.md").write_text("---\nname: one\n---\n")
    result = init_env(run_script, "--path", "skills/one/.env")
    assert result.returncode == 2
    assert not (project / "skills" / "one" / ".env").exists()


def test_the_skill_own_folder_is_refused(run_script, project):
    target = SKILL_DIR / ".env"
    existed = target.exists()
    try:
        result = init_env(run_script, "--path", target, "--no-gitignore")
        assert result.returncode == 2
        assert "skill" in result.stdout
        assert target.exists() == existed
    finally:
        if not existed and target.exists():
            target.unlink()


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_symlinked_env_is_read_for_status(run_script, project, tmp_path):
    real = tmp_path / "real.env"
    real.write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    os.symlink(str(real), str(project / ".env"))
    result = init_env(run_script, "--json")
    assert result.returncode == 0
    assert result.json["status"] == "already_set"
    assert result.json["symlink"] is True


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_symlinked_env_is_not_written_through(run_script, project, tmp_path):
    real = tmp_path / "real.env"
    real.write_bytes(b"A=1\n")
    os.symlink(str(real), str(project / ".env"))
    result = init_env(run_script, "--json")
    assert result.returncode == 2
    assert "symlink" in result.json["message"]
    assert real.read_bytes() == b"A=1\n"
    assert (project / ".env").is_symlink()


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_dangling_env_symlink_is_refused(run_script, project, tmp_path):
    os.symlink(str(tmp_path / "missing.env"), str(project / ".env"))
    result = init_env(run_script)
    assert result.returncode == 2
    assert not (tmp_path / "missing.env").exists()


def test_directory_named_env_is_a_failure(run_script, project):
    (project / ".env").mkdir()
    result = init_env(run_script, "--json")
    assert result.returncode == 1
    assert result.json["status"] == "failed"
    assert "directory" in result.json["message"]


@pytest.mark.parametrize("content", [b"\x00\x01binary\x00", b"A=\xff\xfe\n", b"A=1\n" * 300000],
                         ids=["binary", "not-utf8", "huge"])
def test_unreadable_content_is_a_failure_and_left_alone(run_script, project, content):
    (project / ".env").write_bytes(content)
    result = init_env(run_script, "--json")
    assert result.returncode == 1
    assert result.json["status"] == "failed"
    assert (project / ".env").read_bytes() == content


def test_missing_folder_is_a_failure(run_script, project):
    (project / "file").write_bytes(b"")
    result = init_env(run_script, "--path", "file/.env", "--json")
    assert result.returncode == 1
    assert result.json["status"] == "failed"


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file modes")
def test_folder_without_write_permission_is_a_failure(run_script, project):
    os.chmod(str(project), 0o500)
    try:
        result = init_env(run_script, "--json")
    finally:
        os.chmod(str(project), 0o700)
    assert result.returncode == 1
    assert result.json["status"] == "failed"


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file modes")
def test_unreadable_env_is_a_failure(run_script, project):
    (project / ".env").write_bytes(b"A=1\n")
    os.chmod(str(project / ".env"), 0)
    result = init_env(run_script, "--json")
    assert result.returncode == 1
    assert "permission denied" in result.json["message"]


def test_replace_without_from_stdin_is_a_usage_error(run_script):
    result = init_env(run_script, "--replace", "--json")
    assert result.returncode == 2
    assert result.json["status"] == "refused"


def test_unknown_option_is_a_usage_error(run_script):
    assert init_env(run_script, "--key", "x").returncode == 2


def test_help_documents_exit_codes(run_script):
    result = init_env(run_script, "--help")
    assert result.returncode == 0
    assert "exit codes:" in result.stdout and "--from-stdin" in result.stdout


# --- --from-stdin --------------------------------------------------------------------------------

def test_key_from_stdin_replaces_the_placeholder_in_place(run_script, project):
    env_file = project / ".env"
    env_file.write_bytes(b"# top\r\nDASHSCOPE_API_KEY=sk-your-key-here  # from the console\r\nB=2\r\n")
    result = init_env(run_script, "--from-stdin", "--json", input=CANARY_KEY + "\n", allow_key_in=[env_file])
    assert result.json["status"] == "written"
    assert result.json["key"]["fingerprint"] == fingerprint(CANARY_KEY)
    expected = "# top\r\nDASHSCOPE_API_KEY={}  # from the console\r\nB=2\r\n".format(CANARY_KEY)
    assert env_file.read_bytes() == expected.encode()


def test_key_from_stdin_never_appears_in_output(run_script, project):
    env_file = project / ".env"
    result = init_env(run_script, "--from-stdin", input=CANARY_KEY, allow_key_in=[env_file])
    assert result.returncode == 0
    assert not any(piece in result.output for piece in secret_pieces(CANARY_KEY))
    assert CANARY_KEY.encode() in env_file.read_bytes()


@posix_only
def test_key_from_stdin_makes_the_file_owner_only(run_script, project):
    env_file = project / ".env"
    env_file.write_bytes(PLACEHOLDER_LINE)
    os.chmod(str(env_file), 0o644)
    init_env(run_script, "--from-stdin", input=CANARY_KEY, allow_key_in=[env_file])
    assert mode_of(env_file) == 0o600


def test_key_from_stdin_creates_a_missing_file(run_script, project):
    env_file = project / ".env"
    result = init_env(run_script, "--from-stdin", "--var", "QIANWEN_API_KEY", "--json",
                      input=CANARY_KEY, allow_key_in=[env_file])
    assert result.json["status"] == "written"
    assert env_file.read_bytes() == "QIANWEN_API_KEY={}\n".format(CANARY_KEY).encode()


def test_key_from_stdin_leaves_no_temporary_file(run_script, project):
    env_file = project / ".env"
    env_file.write_bytes(PLACEHOLDER_LINE)
    init_env(run_script, "--from-stdin", "--no-gitignore", input=CANARY_KEY, allow_key_in=[env_file])
    assert sorted(path.name for path in project.iterdir()) == [".env"]


def test_existing_key_is_not_replaced_without_replace(run_script, project):
    env_file = project / ".env"
    before = "DASHSCOPE_API_KEY={}\n".format(CANARY_KEY_OTHER).encode()
    env_file.write_bytes(before)
    result = init_env(run_script, "--from-stdin", "--json", input=CANARY_KEY)
    assert result.returncode == 2
    assert "--replace" in result.json["message"]
    assert env_file.read_bytes() == before


def test_replace_overwrites_an_existing_key(run_script, project):
    env_file = project / ".env"
    env_file.write_bytes("A=1\nexport DASHSCOPE_API_KEY={}\n".format(CANARY_KEY_OTHER).encode())
    result = init_env(run_script, "--from-stdin", "--replace", "--json", input=CANARY_KEY,
                      allow_key_in=[env_file])
    assert result.json["status"] == "written"
    assert env_file.read_bytes() == "A=1\nexport DASHSCOPE_API_KEY={}\n".format(CANARY_KEY).encode()


def test_same_key_again_is_already_set(run_script, project):
    env_file = project / ".env"
    env_file.write_bytes("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY).encode())
    result = init_env(run_script, "--from-stdin", "--json", input=CANARY_KEY + "\n", allow_key_in=[env_file])
    assert result.returncode == 0
    assert result.json["status"] == "already_set"


def test_token_plan_key_is_refused_by_default(run_script, project):
    result = init_env(run_script, "--from-stdin", "--json", input=CANARY_TOKEN_PLAN_KEY)
    assert result.returncode == 2
    assert "Token Plan" in result.json["message"]
    assert not (project / ".env").exists()


def test_token_plan_key_is_written_with_allow_token_plan(run_script, project):
    env_file = project / ".env"
    result = init_env(run_script, "--from-stdin", "--allow-token-plan", "--json",
                      input=CANARY_TOKEN_PLAN_KEY, allow_key_in=[env_file])
    assert result.json["status"] == "written"
    assert result.json["key"]["type"] == "token_plan"


@pytest.mark.parametrize("stdin", [
    "", "   \n", "sk-your-key-here\n", "sk-c4nary7e1b5 d9f3a8c2e6b0d4f7a1c9e",
    "sk-c4nary7e1b5d9f3a8c2e6b0d4f7a1c9e\uff11", "https://dashscope.aliyuncs.com/sk-c4nary7e1b5d9f3a8c2",
], ids=["empty", "blank", "placeholder", "inner-space", "fullwidth", "url"])
def test_unusable_stdin_is_refused_and_nothing_written(run_script, project, stdin):
    result = init_env(run_script, "--from-stdin", "--json", input=stdin)
    assert result.returncode == 2
    assert result.json["status"] == "refused"
    assert not (project / ".env").exists()


def test_non_utf8_stdin_is_refused(run_script, project):
    result = init_env(run_script, "--from-stdin", input=b"sk-\xff\xfe\n")
    assert result.returncode == 2
    assert not (project / ".env").exists()


def test_bearer_prefix_and_quotes_are_removed_from_the_piped_key(run_script, project):
    env_file = project / ".env"
    result = init_env(run_script, "--from-stdin", input="'Bearer {}'\n".format(CANARY_KEY),
                      allow_key_in=[env_file])
    assert result.returncode == 0
    assert env_file.read_bytes() == "DASHSCOPE_API_KEY={}\n".format(CANARY_KEY).encode()
    assert 'leading "Bearer"' in result.stderr


def test_bom_before_the_piped_key_is_dropped(run_script, project):
    env_file = project / ".env"
    init_env(run_script, "--from-stdin", input=("\ufeff" + CANARY_KEY).encode("utf-8"), allow_key_in=[env_file])
    assert env_file.read_bytes() == "DASHSCOPE_API_KEY={}\n".format(CANARY_KEY).encode()


@pytest.mark.skipif(os.name == "nt", reason="pty is POSIX only")
def test_terminal_stdin_is_refused_without_prompting(project, home):
    import pty
    from conftest import base_environment
    parent, child = pty.openpty()
    try:
        completed = subprocess.run([sys.executable, str(SCRIPTS / "init_env.py"), "--from-stdin"],
                                   stdin=child, capture_output=True, text=True, cwd=str(project),
                                   env=base_environment(home), timeout=20)
    finally:
        os.close(child)
        os.close(parent)
    assert completed.returncode == 2
    assert "| python3 {} --from-stdin".format(SCRIPTS / "init_env.py") in completed.stdout
    assert "< keyfile" in completed.stdout
    assert not (project / ".env").exists()
