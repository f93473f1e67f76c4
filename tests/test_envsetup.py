"""Unit tests of envsetup: which line of a .env counts, and how a piped key is judged."""

import pytest

from conftest import CANARY_KEY, CANARY_TOKEN_PLAN_KEY
from qianwen_auth.envfile import parse_env_text
from qianwen_auth.envsetup import Refused, check_new_key, effective_assignment


def winner(text):
    found = effective_assignment(parse_env_text(text))
    return (found.name, found.line) if found else None


def test_qianwen_name_wins_over_dashscope():
    assert winner("DASHSCOPE_API_KEY=sk-aaaaaaaaaaaa\nQIANWEN_API_KEY=sk-bbbbbbbbbbbb\n") == ("QIANWEN_API_KEY", 2)


def test_empty_value_falls_through_to_the_other_name():
    assert winner("QIANWEN_API_KEY=\nDASHSCOPE_API_KEY=sk-your-key-here\n") == ("DASHSCOPE_API_KEY", 2)


def test_empty_value_counts_when_nothing_else_is_assigned():
    assert winner("QIANWEN_API_KEY=\n") == ("QIANWEN_API_KEY", 1)


def test_last_duplicate_wins():
    assert winner("DASHSCOPE_API_KEY=sk-aaaaaaaaaaaa\nDASHSCOPE_API_KEY=sk-bbbbbbbbbbbb\n") == ("DASHSCOPE_API_KEY", 2)


def test_bare_name_is_not_an_assignment():
    assert winner("DASHSCOPE_API_KEY\n# QIANWEN_API_KEY=sk-x\n") is None


def test_piped_key_with_line_break_is_accepted_quietly():
    check, notes = check_new_key(CANARY_KEY + "\r\n")
    assert check.cleaned == CANARY_KEY
    assert notes == []


def test_unknown_prefix_is_accepted_with_a_note():
    _, notes = check_new_key("abcdef0123456789abcdef")
    assert any("sk-" in note for note in notes)


def test_token_plan_key_needs_permission():
    with pytest.raises(Refused):
        check_new_key(CANARY_TOKEN_PLAN_KEY)
    check, _ = check_new_key(CANARY_TOKEN_PLAN_KEY, allow_token_plan=True)
    assert check.key_type == "token_plan"


def test_refusal_messages_never_hold_the_value():
    with pytest.raises(Refused) as refused:
        check_new_key(CANARY_KEY[:12] + " " + CANARY_KEY[12:])
    assert CANARY_KEY[3:9] not in str(refused.value)
