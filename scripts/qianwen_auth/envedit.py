"""Editing .env text: append one assignment or change one value, leaving every other character alone.

The functions work on the decoded text (BOM included, offsets as envfile.parse_env_text gives them),
so encoding the result as UTF-8 gives back every byte we did not mean to change.
"""

import re

_NEWLINE = re.compile(r"\r\n|\n|\r")
# Characters that mean the same to every .env reader and to a POSIX shell when left unquoted.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_\-.:/+@%,=]+")
_HEAD = re.compile(r"(?:export[^\S\r\n]+)?(?:'[^']+'|[^=#\s]+)[^\S\r\n]*=")
_BLANKS = re.compile(r"[^\S\r\n]*")
# Where a quoted value ends, as python-dotenv (and envfile) read it: a backslash escapes any character.
_QUOTED = {"'": re.compile(r"'(?:\\.|[^'\\])*'", re.DOTALL),
           "\"": re.compile(r'"(?:\\.|[^"\\])*"', re.DOTALL)}
_INLINE_COMMENT = re.compile(r"[^\S\r\n]+#")
_TRAILING_BLANKS = re.compile(r"[^\S\r\n]*$")


class EditError(Exception):
    """The edit cannot be made safely; the message names the line only, never a value."""


def newline_of(text):
    """The line break the text already uses (its first one), or "\\n" when it has none."""
    found = _NEWLINE.search(text)
    return found.group(0) if found else "\n"


def quote_value(value):
    """The value as a .env reader will read it back literally: bare when safe, else single-quoted."""
    if _PLAIN_VALUE.fullmatch(value):
        return value
    if "\n" in value or "\r" in value:
        raise EditError("a value with a line break cannot be written on one line")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def format_assignment(name, value):
    return "{}={}".format(name, quote_value(value))


def append_line(text, line):
    """text with line added at the end, after a line break if the last line lacks one."""
    newline = newline_of(text)
    body = text[1:] if text.startswith("\ufeff") else text
    if body and not body.endswith(("\n", "\r")):
        text += newline
    return text + line + newline


def replace_value(text, assignment, value):
    """text with the value of one assignment changed; its name, `export`, the spacing around `=`
    and an inline comment stay as they were."""
    statement = text[assignment.start:assignment.end]
    head = _HEAD.match(statement)
    if not head:
        raise EditError("line {} does not look like NAME=value".format(assignment.line))
    lead = _BLANKS.match(statement, head.end()).group(0)
    body = statement[head.end() + len(lead):]
    if body[:1] in _QUOTED:
        found = _QUOTED[body[0]].match(body)
        if not found:
            raise EditError("line {} has a quote that is never closed".format(assignment.line))
        tail = body[found.end():]
    elif body.startswith("#") and lead:
        lead, tail = "", lead + body  # "NAME= # note": an empty value and a comment
    else:
        found = _INLINE_COMMENT.search(body) or _TRAILING_BLANKS.search(body)
        tail = body[found.start():]
    new_statement = statement[:head.end()] + lead + quote_value(value) + tail
    return text[:assignment.start] + new_statement + text[assignment.end:]
