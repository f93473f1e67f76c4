"""Unit tests of gitignore: which patterns are missing, how lines are added, where the root is."""

import pytest

from qianwen_auth.gitignore import PATTERNS, append_patterns, find_git_root, missing_by_lines


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
    (b"a\rb\r", b"a\rb\r.env\r.env.local\r*.env\r"),
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

