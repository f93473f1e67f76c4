"""verify.py verdicts that are decided before any network call: where the key comes from, local
checks, configuration errors, evidence. Each runs the script as an agent would."""

import json
import os
import stat

import pytest

from conftest import CANARY_KEY, CANARY_KEY_OTHER, CANARY_TOKEN_PLAN_KEY

# Nothing listens here: a test that wrongly sends a request fails fast as "unreachable".
NOWHERE = "http://127.0.0.1:9"


def verify(run_script, *args, **kwargs):
    return run_script("verify.py", "--json", "--no-save", *args, **kwargs)


def test_no_key_anywhere_is_not_configured_with_exit_3(run_script):
    result = verify(run_script)
    assert result.returncode == 3
    assert result.json["status"] == "not_configured"
    assert result.json["key"]["set"] is False
    assert "init_env.py" in result.json["hint"]


def test_json_mode_prints_exactly_one_object(run_script):
    result = verify(run_script)
    assert isinstance(json.loads(result.stdout), dict)


def test_default_output_is_short_lines_with_status_and_next_step(run_script):
    result = run_script("verify.py", "--no-save")
    assert "Status:    not_configured (exit 3)" in result.stdout
    assert "Next:" in result.stdout
    assert len(result.stdout.splitlines()) <= 8


def test_placeholder_in_dotenv_is_not_configured_and_sends_nothing(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY=sk-your-key-here\n")
    result = verify(run_script, "--base-url", NOWHERE)
    assert result.json["status"] == "not_configured"
    assert result.json["key"]["problems"] == ["placeholder"]
    assert result.json["probe"] is None
    assert "line 1" in result.json["hint"]


def test_placeholder_found_first_wins_over_a_real_key_lower_in_the_chain(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    result = verify(run_script, env={"QIANWEN_API_KEY": "sk-xxx"})
    assert result.json["status"] == "not_configured"
    assert result.json["key"]["source"] == "env:QIANWEN_API_KEY"
    assert result.json["key"]["shadowed"] == ["dotenv:{}".format(project / ".env")]


def test_empty_exported_variable_hides_dotenv_value(run_script, project):
    (project / ".env").write_text("# my key\n\nDASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    result = verify(run_script, env={"DASHSCOPE_API_KEY": ""})
    assert result.returncode == 3
    assert result.json["status"] == "not_configured"
    assert "empty_variable_hides_dotenv" in result.json["key"]["problems"]
    assert "DASHSCOPE_API_KEY is exported but empty" in result.json["hint"]
    assert "line 3" in result.json["hint"] and "unset DASHSCOPE_API_KEY" in result.json["hint"]


def test_empty_alias_falls_through_to_the_next_name(run_script):
    result = verify(run_script, "--base-url", NOWHERE,
                    env={"QIANWEN_API_KEY": "", "DASHSCOPE_API_KEY": CANARY_KEY})
    assert result.json["key"]["source"] == "env:DASHSCOPE_API_KEY"


def test_environment_beats_dotenv_and_the_other_key_is_reported_shadowed(run_script, project):
    (project / ".env").write_text("QIANWEN_API_KEY={}\n".format(CANARY_KEY_OTHER))
    result = verify(run_script, "--base-url", NOWHERE, env={"DASHSCOPE_API_KEY": CANARY_KEY})
    key = result.json["key"]
    assert key["source"] == "env:DASHSCOPE_API_KEY"
    assert key["shadowed"] == ["dotenv:{}".format(project / ".env")]


def test_repository_root_dotenv_is_read_from_a_subfolder(run_script, project):
    (project / ".git").mkdir()
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    sub = project / "src" / "app"
    sub.mkdir(parents=True)
    result = verify(run_script, "--base-url", NOWHERE, cwd=sub)
    assert result.json["key"]["source"] == "dotenv:{}".format(project / ".env")


def test_fingerprint_identifies_the_key_without_showing_it(run_script):
    import hashlib
    result = verify(run_script, "--base-url", NOWHERE, env={"DASHSCOPE_API_KEY": CANARY_KEY})
    expected = "sha256:" + hashlib.sha256(CANARY_KEY.encode()).hexdigest()[:8]
    assert result.json["key"]["fingerprint"] == expected


@pytest.mark.parametrize("value,problem", [
    ("sk-c4nary7e1b5d9f3a8 c2e6b0d4f7a1c9e", "inner_whitespace"),
    ("sk-c4nary7e1b5d9f3a8\u200bc2e6b0d4f7a1c9e", "invisible_character"),
    ("sk-c4nary7e1b5d9f3a8\uff43\uff12e6b0d4f7a1c9e", "fullwidth_character"),
    ("sk-c4nary7e1b5d9f3a8\x07c2e6b0d4f7a1c9e", "control_character"),
    ("https://dashscope.aliyuncs.com/c4nary7e1b5d9f3a8c2e6b0d4f7a1c9e", "looks_like_url"),
])
def test_unrepairable_key_is_invalid_and_never_sent(run_script, project, value, problem):
    (project / ".env").write_text('DASHSCOPE_API_KEY="{}"\n'.format(value), encoding="utf-8")
    result = verify(run_script, "--base-url", NOWHERE)
    assert result.returncode == 1
    assert result.json["status"] == "invalid_key"
    assert problem in result.json["key"]["problems"]
    assert result.json["probe"] is None


def test_token_plan_key_is_reported_and_sent_nowhere_by_default(run_script):
    result = verify(run_script, "--base-url", NOWHERE, env={"DASHSCOPE_API_KEY": CANARY_TOKEN_PLAN_KEY})
    assert result.returncode == 1
    assert result.json["status"] == "token_plan_key"
    assert result.json["key"]["type"] == "token_plan"
    assert result.json["probe"] is None and result.json["probes"] == []
    assert result.json["token_plan"] == {"checked": False, "accepted": None, "region": None}
    assert "standard" in result.json["hint"]


@pytest.mark.parametrize("base_url", ["http://dashscope.aliyuncs.com", "ftp://example.com",
                                      "https://user:secret@example.com", "example.com"])
def test_refused_base_url_is_config_error_with_exit_2(run_script, base_url):
    result = verify(run_script, "--base-url", base_url, env={"DASHSCOPE_API_KEY": CANARY_KEY})
    assert result.returncode == 2
    assert result.json["status"] == "config_error"
    assert "secret@" not in result.stdout


def test_refused_qwen_base_url_from_dotenv_names_the_file(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\nQWEN_BASE_URL=http://gateway.example.com\n"
                                  .format(CANARY_KEY))
    result = verify(run_script)
    assert result.json["status"] == "config_error"
    assert str(project / ".env") in result.json["hint"] and "line 2" in result.json["hint"]


def test_bad_argument_is_config_error_even_in_json(run_script):
    result = verify(run_script, "--timeout", "soon")
    assert result.returncode == 2
    assert result.json["status"] == "config_error"


def test_unreadable_dotenv_is_a_warning_not_a_traceback(run_script, project):
    (project / ".env").mkdir()
    result = verify(run_script)
    assert result.returncode == 3
    assert "is a directory" in result.stderr


def test_binary_dotenv_is_a_warning(run_script, project):
    (project / ".env").write_bytes(b"\x00\x01DASHSCOPE_API_KEY=" + CANARY_KEY.encode())
    result = verify(run_script)
    assert "binary" in result.stderr
    assert result.json["status"] == "not_configured"


def test_unparseable_line_is_skipped_with_its_line_number_only(run_script, project):
    (project / ".env").write_text("this is not valid {}\nDASHSCOPE_API_KEY=sk-your-key-here\n"
                                  .format(CANARY_KEY))
    result = verify(run_script)
    assert "line 1 could not be parsed" in result.stderr


def test_duplicate_assignment_uses_the_last_and_says_so(run_script, project):
    (project / ".env").write_text("DASHSCOPE_API_KEY=sk-xxx\nDASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    result = verify(run_script, "--base-url", NOWHERE)
    assert result.json["key"]["type"] == "standard"
    assert "the last one, line 2, is used" in result.stderr


def test_help_is_short_with_examples(run_script):
    result = run_script("verify.py", "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout and "exit codes:" in result.stdout


def test_version_flag(run_script):
    assert run_script("verify.py", "--version").stdout.startswith("verify.py ")


# Evidence files


def test_result_is_saved_as_a_new_0600_file_each_run(run_script, project):
    first = run_script("verify.py", "--json")
    second = run_script("verify.py", "--json")
    saved = sorted((project / "output" / "qianwen-ops-auth").glob("verify-*.json"))
    assert len(saved) == 2
    assert {first.json["evidence"], second.json["evidence"]} == {str(p) for p in saved}
    if os.name != "nt":
        assert stat.S_IMODE(saved[0].stat().st_mode) == 0o600
    assert json.loads(saved[0].read_text())["status"] == "not_configured"


def test_output_dir_changes_the_folder(run_script, tmp_path):
    result = run_script("verify.py", "--json", "--output-dir", tmp_path / "evidence")
    assert result.json["evidence"].startswith(str(tmp_path / "evidence"))


@pytest.mark.parametrize("folder", [".claude/skills/other-skill/out", ".agents/skills/x"])
def test_nothing_is_saved_inside_an_agent_skills_folder(run_script, project, folder):
    result = run_script("verify.py", "--json", "--output-dir", project / folder)
    assert result.json["evidence"] is None
    assert "skills" in result.json["evidence_skipped"]
    assert not (project / folder).exists()


def test_nothing_is_saved_inside_a_skills_tree(run_script, project):
    (project / "skills" / "some-skill").mkdir(parents=True)
    (project / "skills" / "some-skill" / "SKILL.md").write_text("---\nname: some-skill\n---\n")
    result = run_script("verify.py", "--json", cwd=project / "skills")
    assert result.json["evidence"] is None
    assert "skills tree" in result.stderr


def test_nothing_is_saved_inside_this_skill(run_script):
    from conftest import ROOT
    result = run_script("verify.py", "--json", "--output-dir", ROOT / "output")
    assert result.json["evidence"] is None
    assert "own folder" in result.json["evidence_skipped"]


def test_evidence_folder_ignores_itself_in_git(run_script, project):
    import subprocess
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    run_script("verify.py", "--json")
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=str(project),
                            capture_output=True, text=True, check=True).stdout
    assert "output/" not in status


def test_readable_dotenv_holding_a_key_is_reported(run_script, project):
    env_file = project / ".env"
    env_file.write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    os.chmod(str(env_file), 0o644)
    result = verify(run_script, "--base-url", NOWHERE)
    if os.name != "nt":
        assert "dotenv_readable_by_others" in result.json["key"]["problems"]
        assert "--fix-permissions" in result.stderr


def test_committed_dotenv_holding_a_key_is_reported_as_leaked(run_script, project):
    import subprocess
    env_file = project / ".env"
    env_file.write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    os.chmod(str(env_file), 0o600)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(git + ["-C", str(project), "add", "-f", ".env"], check=True)
    subprocess.run(git + ["-C", str(project), "commit", "-qm", "oops"], check=True)
    result = verify(run_script, "--base-url", NOWHERE)
    assert result.json["key"]["problems"] == ["dotenv_tracked_by_git"]
    assert "leaked" in result.stderr and "git rm --cached -- .env" in result.stderr


def test_base_url_with_an_api_path_is_refused_with_the_base_to_set(run_script):
    result = verify(run_script, "--base-url", "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
                    env={"DASHSCOPE_API_KEY": CANARY_KEY})
    assert result.json["status"] == "config_error"
    assert "https://dashscope.aliyuncs.com/compatible-mode/v1" in result.json["hint"]


def test_not_configured_hint_gives_a_runnable_init_env_command(run_script, project):
    from conftest import SCRIPTS
    result = verify(run_script)
    assert "python3 {}".format(SCRIPTS / "init_env.py") in result.json["hint"]
