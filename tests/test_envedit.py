"""Unit tests of envedit: one line added or one value changed, every other character kept."""

import io

import pytest
from dotenv import dotenv_values

from qianwen_auth.envedit import EditError, append_line, format_assignment, newline_of, quote_value, replace_value
from qianwen_auth.envfile import parse_env_text


def only_assignment(text, name="KEY"):
    return parse_env_text(text).last(name)


def dotenv_value(text, name="KEY"):
    return dotenv_values(stream=io.StringIO(text), interpolate=False).get(name)


@pytest.mark.parametrize("text, newline", [
    ("", "\n"), ("A=1", "\n"), ("A=1\nB=2\r\n", "\n"), ("A=1\r\nB=2\n", "\r\n"), ("A=1\rB=2", "\r"),
])
def test_newline_of_is_the_first_line_break_in_the_text(text, newline):
    assert newline_of(text) == newline


@pytest.mark.parametrize("text, expected", [
    ("", "NEW=1\n"),
    ("A=1\n", "A=1\nNEW=1\n"),
    ("A=1", "A=1\nNEW=1\n"),
    ("A=1\r\nB=2", "A=1\r\nB=2\r\nNEW=1\r\n"),
    ("A=1\r", "A=1\rNEW=1\r"),
    ("\ufeff", "\ufeffNEW=1\n"),
    ("\ufeffA=1", "\ufeffA=1\nNEW=1\n"),
])
def test_append_line_adds_a_line_break_only_where_missing(text, expected):
    assert append_line(text, "NEW=1") == expected


@pytest.mark.parametrize("value", ["sk-abc123_DEF-456", "a.b:c/d+e@f%g,h=i"])
def test_plain_values_are_written_bare(value):
    assert quote_value(value) == value


@pytest.mark.parametrize("value", ["a#b", "a b", "it's", 'say "hi"', "back\\slash", "$HOME", "`cmd`", "", "#x"])
def test_other_values_read_back_literally(value):
    line = format_assignment("KEY", value) + "\n"
    assert only_assignment(line).value == value
    assert dotenv_value(line) == value


def test_values_with_line_breaks_are_not_written():
    with pytest.raises(EditError):
        quote_value("a\nb")


@pytest.mark.parametrize("before, after", [
    ("KEY=old\n", "KEY=new\n"),
    ("export KEY=old\n", "export KEY=new\n"),
    ("KEY = old\n", "KEY = new\n"),
    ("KEY=old  # note\n", "KEY=new  # note\n"),
    ("KEY=\"old # not a comment\" # note\n", "KEY=new # note\n"),
    ("KEY='old'\r\n", "KEY=new\r\n"),
    ("KEY=\"line one\nline two\"\nB=2\n", "KEY=new\nB=2\n"),
    ("KEY=\n", "KEY=new\n"),
    ("KEY= # only a comment\n", "KEY=new # only a comment\n"),
    ("KEY=#not-a-comment\n", "KEY=new\n"),
    ("KEY='it\\'s' # note\n", "KEY=new # note\n"),
    ("KEY=\"a\\\"b\"\n", "KEY=new\n"),
    ("KEY=old", "KEY=new"),
    ("KEY=old\t\n", "KEY=new\t\n"),
    ("\tKEY\t=\told \t\r\n", "\tKEY\t=\tnew \t\r\n"),
])
def test_replace_value_keeps_the_rest_of_the_statement(before, after):
    text = "# top\n" + before
    assignment = only_assignment(text)
    assert replace_value(text, assignment, "new") == "# top\n" + after


def test_replace_value_changes_only_the_chosen_assignment():
    text = "\ufeffKEY=one\r\nOTHER=x\r\nKEY=two\r\n"
    second = parse_env_text(text).last("KEY")
    assert replace_value(text, second, "three") == "\ufeffKEY=one\r\nOTHER=x\r\nKEY=three\r\n"


def test_replaced_value_reads_back_in_python_dotenv():
    text = "A=1\nexport KEY = 'old'  # keep\nB=2\n"
    edited = replace_value(text, only_assignment(text), "sk-new_value-1")
    assert dotenv_values(stream=io.StringIO(edited), interpolate=False) == {
        "A": "1", "KEY": "sk-new_value-1", "B": "2"}
