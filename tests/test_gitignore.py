"""Unit tests of gitignore: which patterns are missing, how lines are added, where the root is."""

import os
import shutil
import time

import pytest

from qianwen_auth.gitignore import PATTERNS, Git, append_patterns, find_git_root, missing_by_lines


@pytest.mark.parametrize("text, missing", [
    ("", [".env", ".env.local", "*.env"]),
    (".env\n.env.local\n*.env\n", []),
    (".env  \n\ufeff", [".env.local", "*.env"]),
    ("# .env\n.env.local\n", [".env", "*.env"]),
    ("/.env\n**/.env.local\n*.env", []),
    (".env\n!.env\n", [".env", ".env.local", "*.env"]),
    ("!.env\n.env\n", [".env.local", "*.env"]),
    ("\ufeff.env\r\n.env.local\r\n*.env\r\n", []),
])
def test_missing_by_lines(text, missing):
    assert missing_by_lines(text) == missing


def test_root_anchored_pattern_does_not_cover_a_nested_env():
    assert missing_by_lines("/.env\n.env.local\n*.env\n", at_root=False) == [".env"]


@pytest.mark.parametrize("data, expected", [
    (b"", b".env\n.env.local\n*.env\n"),
    (b"node_modules", b"node_modules\n.env\n.env.local\n*.env\n"),
    (b"node_modules\n", b"node_modules\n.env\n.env.local\n*.env\n"),
    (b"a\r\nb", b"a\r\nb\r\n.env\r\n.env.local\r\n*.env\r\n"),
    (b"a\rb\r", b"a\rb\r\n.env\n.env.local\n*.env\n"),
    (b"a\rb", b"a\rb\n.env\n.env.local\n*.env\n"),
    (b"a\r\nb\r", b"a\r\nb\r\n.env\r\n.env.local\r\n*.env\r\n"),
    (b"\xef\xbb\xbf", b"\xef\xbb\xbf.env\n.env.local\n*.env\n"),
    (b"caf\xe9\n", b"caf\xe9\n.env\n.env.local\n*.env\n"),
])
def test_append_patterns_is_newline_safe_and_keeps_bytes(data, expected):
    assert append_patterns(data, PATTERNS) == expected


def test_git_root_is_the_nearest_folder_with_dot_git(tmp_path):
    (tmp_path / "repo" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    assert find_git_root(tmp_path / "repo" / "sub" / "deeper") == tmp_path / "repo"


def test_git_file_of_a_worktree_marks_a_root(tmp_path):
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text("gitdir: /elsewhere\n")
    assert find_git_root(tmp_path / "wt") == tmp_path / "wt"



def test_cr_alone_does_not_separate_lines_for_git():
    assert missing_by_lines(".env\r.env.local\r*.env\r") == list(PATTERNS)


def test_trailing_cr_of_a_line_is_ignored_as_git_ignores_it():
    assert missing_by_lines(".env\r\n.env.local\r\n*.env\r") == []


def test_form_feed_and_other_unicode_breaks_do_not_split_lines():
    assert missing_by_lines("x\x0c.env\n.env.local\n*.env\n") == [".env"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_calls_share_one_time_budget(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "git").write_text("#!/bin/sh\nexec sleep 5\n")
    (fake / "git").chmod(0o755)
    git = Git(tmp_path, deadline=time.monotonic() + 0.5, executable=str(fake / "git"))
    started = time.monotonic()
    assert [git.is_ignored(".env"), git.is_tracked(".env"), git.is_work_tree()] == [None, None, False]
    assert time.monotonic() - started < 2


def test_git_is_run_without_the_repository_hooks_or_fsmonitor(tmp_path):
    command = Git(tmp_path, executable="git").command("status")
    assert "core.fsmonitor=false" in command and "core.hooksPath=" + os.devnull in command
    assert Git(tmp_path).environ["GIT_OPTIONAL_LOCKS"] == "0"
