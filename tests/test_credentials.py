"""Specification of the priority chain, with real folders and an injected environment.

Order: env QIANWEN_API_KEY > env DASHSCOPE_API_KEY > ./.env (QIANWEN, then DASHSCOPE) >
<repository root>/.env, where the root is the nearest ancestor holding .git or a skills/ folder.
"""

import os

import pytest

from qianwen_auth.credentials import ConfigChain, dotenv_paths, find_repo_root

KEY_A = "sk-aaaa1111bbbb2222cccc3333dddd4444"
KEY_B = "sk-bbbb1111cccc2222dddd3333eeee4444"
KEY_C = "sk-cccc1111dddd2222eeee3333ffff4444"
KEY_D = "sk-dddd1111eeee2222ffff3333aaaa4444"


@pytest.fixture
def repo(tmp_path):
    """tmp/repo (a git root) with a subfolder repo/app where the scripts run."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "app").mkdir()
    return root


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def resolve(cwd, environ=None):
    return ConfigChain(environ=environ or {}, cwd=cwd).resolve()


def source_of(resolution):
    return resolution.found.source if resolution.found else None


# --- which source wins ----------------------------------------------------------------------------

def test_environment_qianwen_beats_environment_dashscope(repo):
    found = resolve(repo / "app", {"QIANWEN_API_KEY": KEY_A, "DASHSCOPE_API_KEY": KEY_B}).found
    assert (found.source, found.value) == ("env:QIANWEN_API_KEY", KEY_A)


def test_environment_dashscope_beats_local_dotenv(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_A + "\n")
    found = resolve(repo / "app", {"DASHSCOPE_API_KEY": KEY_B}).found
    assert (found.source, found.value) == ("env:DASHSCOPE_API_KEY", KEY_B)


def test_local_dotenv_beats_repository_root_dotenv(repo):
    local = write(repo / "app" / ".env", "DASHSCOPE_API_KEY=" + KEY_A + "\n")
    write(repo / ".env", "QIANWEN_API_KEY=" + KEY_B + "\n")
    found = resolve(repo / "app").found
    assert (found.source, found.value, found.line) == ("dotenv:{}".format(local), KEY_A, 1)


def test_qianwen_before_dashscope_inside_one_dotenv(repo):
    write(repo / "app" / ".env", "DASHSCOPE_API_KEY=" + KEY_B + "\nQIANWEN_API_KEY=" + KEY_A + "\n")
    found = resolve(repo / "app").found
    assert (found.name, found.value, found.line) == ("QIANWEN_API_KEY", KEY_A, 2)


def test_repository_root_dotenv_is_used_when_nothing_else_is_set(repo):
    root_env = write(repo / ".env", "QIANWEN_API_KEY=" + KEY_A + "\n")
    found = resolve(repo / "app").found
    assert found.source == "dotenv:{}".format(root_env)
    assert found.where == "{} line 1 (QIANWEN_API_KEY)".format(root_env)


def test_nothing_found_without_environment_or_dotenv(repo):
    resolution = resolve(repo / "app")
    assert resolution.found is None
    assert resolution.shadowed == [] and resolution.hidden_by_empty == [] and resolution.warnings == []


def test_environment_setting_says_where_it_came_from(repo):
    found = resolve(repo, {"QIANWEN_API_KEY": KEY_A}).found
    assert found.where == "environment variable QIANWEN_API_KEY"
    assert found.path is None and found.line is None


def test_setting_repr_never_shows_the_value(repo):
    found = resolve(repo, {"QIANWEN_API_KEY": KEY_A}).found
    assert KEY_A not in repr(found)
    assert KEY_A[3:9] not in repr(resolve(repo, {"QIANWEN_API_KEY": KEY_A}))


# --- the repository root ---------------------------------------------------------------------------

def test_repository_root_is_nearest_ancestor_with_git(repo):
    deep = repo / "app" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_repo_root(deep) == repo.resolve()


def test_a_git_file_marks_a_root_too(tmp_path):
    (tmp_path / "worktree").mkdir()
    write(tmp_path / "worktree" / ".git", "gitdir: elsewhere\n")
    assert find_repo_root(tmp_path / "worktree") == (tmp_path / "worktree").resolve()


def test_repository_root_is_nearest_ancestor_with_skills_folder(tmp_path):
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / "skills").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / "src").mkdir()
    assert find_repo_root(tmp_path / "outer" / "inner" / "src") == (tmp_path / "outer" / "inner").resolve()


def test_a_file_named_skills_does_not_mark_a_root(tmp_path):
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    (tmp_path / "outer" / "inner").mkdir()
    write(tmp_path / "outer" / "inner" / "skills", "")
    assert find_repo_root(tmp_path / "outer" / "inner") == (tmp_path / "outer").resolve()


def test_current_folder_can_be_the_root(repo):
    assert find_repo_root(repo) == repo.resolve()


def test_dotenv_is_read_once_when_current_folder_is_the_root(repo):
    assert dotenv_paths(repo) == [repo.resolve() / ".env"]


def test_dotenv_paths_are_local_then_root(repo):
    assert dotenv_paths(repo / "app") == [repo.resolve() / "app" / ".env", repo.resolve() / ".env"]


def test_only_the_local_dotenv_outside_any_repository(tmp_path):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    if find_repo_root(lonely) is not None:
        pytest.skip("the temporary folder sits inside a repository")
    assert dotenv_paths(lonely) == [lonely.resolve() / ".env"]


# --- empty values ------------------------------------------------------------------------------------

def test_empty_exported_variable_hides_dotenv_value(repo):
    local = write(repo / "app" / ".env", "# key\n\nQIANWEN_API_KEY=" + KEY_A + "\n")
    resolution = resolve(repo / "app", {"QIANWEN_API_KEY": ""})
    assert resolution.found is None
    assert [(h.name, h.path, h.line) for h in resolution.hidden_by_empty] == [
        ("QIANWEN_API_KEY", local, 3)]


def test_blank_exported_variable_counts_as_empty(repo):
    write(repo / "app" / ".env", "DASHSCOPE_API_KEY=" + KEY_A + "\n")
    resolution = resolve(repo / "app", {"DASHSCOPE_API_KEY": "  "})
    assert resolution.found is None
    assert [h.name for h in resolution.hidden_by_empty] == ["DASHSCOPE_API_KEY"]


def test_empty_exported_variable_hides_root_dotenv_value_too(repo):
    root_env = write(repo / ".env", "QIANWEN_API_KEY=" + KEY_A + "\n")
    resolution = resolve(repo / "app", {"QIANWEN_API_KEY": ""})
    assert resolution.found is None
    assert [(h.path, h.line) for h in resolution.hidden_by_empty] == [(root_env, 1)]


def test_empty_exported_variable_does_not_hide_the_other_name(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_A + "\nDASHSCOPE_API_KEY=" + KEY_B + "\n")
    resolution = resolve(repo / "app", {"QIANWEN_API_KEY": ""})
    assert (resolution.found.name, resolution.found.value) == ("DASHSCOPE_API_KEY", KEY_B)
    assert [h.name for h in resolution.hidden_by_empty] == ["QIANWEN_API_KEY"]


def test_empty_exported_variable_hiding_an_empty_dotenv_value_is_not_reported(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=\n")
    assert resolve(repo / "app", {"QIANWEN_API_KEY": ""}).hidden_by_empty == []


def test_empty_alias_falls_through_to_the_next_name(repo):
    found = resolve(repo, {"QIANWEN_API_KEY": "", "DASHSCOPE_API_KEY": KEY_B}).found
    assert found.source == "env:DASHSCOPE_API_KEY"


def test_empty_dotenv_value_falls_through_to_the_next_source(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=\nDASHSCOPE_API_KEY=''\n")
    root_env = write(repo / ".env", "QIANWEN_API_KEY=" + KEY_A + "\n")
    assert source_of(resolve(repo / "app")) == "dotenv:{}".format(root_env)


def test_bare_name_in_dotenv_assigns_nothing(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_A + "\nQIANWEN_API_KEY\n")
    root_env = write(repo / ".env", "QIANWEN_API_KEY=" + KEY_B + "\n")
    assert source_of(resolve(repo / "app")) == "dotenv:{}".format(root_env)


# --- placeholders and shadowed keys ---------------------------------------------------------------

def test_placeholder_found_first_still_wins(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=sk-your-key-here\n")
    write(repo / ".env", "QIANWEN_API_KEY=" + KEY_A + "\n")
    resolution = resolve(repo / "app")
    assert resolution.found.value == "sk-your-key-here"
    assert [s.value for s in resolution.shadowed] == [KEY_A]


def test_every_lower_source_with_a_different_key_is_shadowed(repo):
    local = write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_C + "\n")
    root_env = write(repo / ".env", "DASHSCOPE_API_KEY=" + KEY_D + "\n")
    resolution = resolve(repo / "app", {"QIANWEN_API_KEY": KEY_A, "DASHSCOPE_API_KEY": KEY_B})
    assert resolution.found.source == "env:QIANWEN_API_KEY"
    assert [s.source for s in resolution.shadowed] == [
        "env:DASHSCOPE_API_KEY", "dotenv:{}".format(local), "dotenv:{}".format(root_env)]


def test_dotenv_value_behind_exported_variable_of_same_name_is_shadowed(repo):
    local = write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_B + "\n")
    resolution = resolve(repo / "app", {"QIANWEN_API_KEY": KEY_A})
    assert resolution.found.source == "env:QIANWEN_API_KEY"
    assert [(s.source, s.line) for s in resolution.shadowed] == [("dotenv:{}".format(local), 1)]


def test_lower_source_with_the_same_key_is_not_shadowed(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_A + "\nDASHSCOPE_API_KEY=' " + KEY_A + " '\n")
    write(repo / ".env", "QIANWEN_API_KEY=" + KEY_A + "\n")
    assert resolve(repo / "app", {"DASHSCOPE_API_KEY": KEY_A}).shadowed == []


def test_empty_lower_source_is_not_shadowed(repo):
    write(repo / "app" / ".env", "DASHSCOPE_API_KEY=\n")
    assert resolve(repo / "app", {"QIANWEN_API_KEY": KEY_A}).shadowed == []


# --- warnings ------------------------------------------------------------------------------------------

def test_duplicate_assignments_are_reported_with_their_lines(repo):
    local = write(repo / "app" / ".env",
                  "QIANWEN_API_KEY=" + KEY_A + "\nOTHER=1\nQIANWEN_API_KEY=" + KEY_B + "\n")
    resolution = resolve(repo / "app")
    assert resolution.found.value == KEY_B and resolution.found.line == 3
    assert resolution.warnings == [
        "{} assigns QIANWEN_API_KEY 2 times (lines 1, 3); the last one, line 3, is used".format(local)]


def test_duplicate_warning_never_shows_a_value(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_A + "\nQIANWEN_API_KEY=" + KEY_B + "\n")
    warnings = " ".join(resolve(repo / "app").warnings)
    assert KEY_A[3:9] not in warnings and KEY_B[3:9] not in warnings


def test_duplicate_warning_is_given_once_per_file_and_name(repo):
    write(repo / "app" / ".env", "QIANWEN_API_KEY=" + KEY_A + "\nQIANWEN_API_KEY=" + KEY_B + "\n")
    chain = ConfigChain(environ={}, cwd=repo / "app")
    chain.resolve()
    assert len(chain.resolve().warnings) == 1


def test_unparseable_dotenv_line_becomes_a_warning(repo):
    local = write(repo / "app" / ".env", "QIANWEN_API_KEY " + KEY_A + "\n")
    resolution = resolve(repo / "app")
    assert resolution.found is None
    assert resolution.warnings == ["{}: line 1 could not be parsed (expected '=' after the name); "
                                   "skipped".format(local)]


def test_unreadable_dotenv_is_a_warning_and_the_chain_goes_on(repo):
    (repo / "app" / ".env").write_bytes(b"QIANWEN_API_KEY=\xff\xfe" + KEY_A.encode())
    root_env = write(repo / ".env", "QIANWEN_API_KEY=" + KEY_B + "\n")
    resolution = resolve(repo / "app")
    assert resolution.found.source == "dotenv:{}".format(root_env)
    assert len(resolution.warnings) == 1 and "UTF-8" in resolution.warnings[0]
    assert KEY_A[3:9] not in resolution.warnings[0]


def test_dotenv_that_is_a_directory_is_a_warning(repo):
    (repo / "app" / ".env").mkdir()
    resolution = resolve(repo / "app", {"QIANWEN_API_KEY": KEY_A})
    assert resolution.found.value == KEY_A
    assert len(resolution.warnings) == 1 and "directory" in resolution.warnings[0]


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_dangling_dotenv_symlink_is_a_warning(repo):
    (repo / "app" / ".env").symlink_to(repo / "missing")
    resolution = resolve(repo / "app")
    assert resolution.found is None
    assert len(resolution.warnings) == 1 and "cannot be read" in resolution.warnings[0]


# --- other settings through the same chain -----------------------------------------------------------

def test_base_url_lookup_prefers_the_environment(repo):
    write(repo / "app" / ".env", "QWEN_BASE_URL=https://local.example/v1\n")
    setting = ConfigChain(environ={"QWEN_BASE_URL": "https://env.example/v1"}, cwd=repo / "app").lookup(
        "QWEN_BASE_URL")
    assert (setting.source, setting.value) == ("env:QWEN_BASE_URL", "https://env.example/v1")


def test_base_url_lookup_falls_back_to_local_then_root_dotenv(repo):
    root_env = write(repo / ".env", "QWEN_BASE_URL=https://root.example/v1\n")
    chain = ConfigChain(environ={}, cwd=repo / "app")
    assert chain.lookup("QWEN_BASE_URL").source == "dotenv:{}".format(root_env)
    local = write(repo / "app" / ".env", "QWEN_BASE_URL=https://local.example/v1\n")
    setting = ConfigChain(environ={}, cwd=repo / "app").lookup("QWEN_BASE_URL")
    assert (setting.source, setting.value) == ("dotenv:{}".format(local), "https://local.example/v1")


def test_base_url_lookup_is_none_when_unset(repo):
    assert ConfigChain(environ={}, cwd=repo / "app").lookup("QWEN_BASE_URL") is None


def test_lookup_all_reads_each_name_through_the_chain(repo):
    write(repo / ".env", "OSS_BUCKET=b\n")
    found = ConfigChain(environ={"OSS_REGION": "cn-hangzhou"}, cwd=repo / "app").lookup_all(
        ["OSS_REGION", "OSS_BUCKET", "OSS_ENDPOINT"])
    assert {name: s.value if s else None for name, s in found.items()} == {
        "OSS_REGION": "cn-hangzhou", "OSS_BUCKET": "b", "OSS_ENDPOINT": None}


def test_real_environment_is_used_when_none_is_injected(repo, monkeypatch):
    monkeypatch.setenv("QIANWEN_API_KEY", KEY_A)
    assert ConfigChain(cwd=repo).resolve().found.value == KEY_A


def test_injected_environment_is_copied_not_shared(repo):
    environ = {"QIANWEN_API_KEY": KEY_A}
    chain = ConfigChain(environ=environ, cwd=repo)
    environ["QIANWEN_API_KEY"] = KEY_B
    assert chain.resolve().found.value == KEY_A
