"""Reading .env files the way the QianWen skill family (and python-dotenv) reads them.

Values are taken literally: no ${VAR} interpolation, because a secret may contain a dollar sign.
The parser keeps where each assignment stands (line and character offsets) so init_env.py can
replace one line and leave every other byte as it was.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from .fsutil import SMALL_FILE_LIMIT, FileNotRead, read_small_file

MAX_BYTES = SMALL_FILE_LIMIT

# The grammar is python-dotenv's (so values match what the family's loaders see), written out here
# because the runtime may not import it. "Blank" means whitespace other than a line break.
_BLANKS = re.compile(r"[^\S\r\n]*")
_WHITESPACE_AND_NEWLINES = re.compile(r"\s*")
_NEWLINE = re.compile(r"\r\n|\n|\r")
_EXPORT = re.compile(r"export[^\S\r\n]+")
_SINGLE_QUOTED_NAME = re.compile(r"'([^']+)'")
_UNQUOTED_NAME = re.compile(r"[^=#\s]+")
_EQUALS = re.compile(r"=[^\S\r\n]*")
_SINGLE_QUOTED = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_DOUBLE_QUOTED = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_UNQUOTED_VALUE = re.compile(r"[^\r\n]*")
_COMMENT = re.compile(r"[^\S\r\n]*#[^\r\n]*")
_REST_OF_LINE = re.compile(r"[^\r\n]*")
_END_OF_LINE = re.compile(r"[^\S\r\n]*(?=\r|\n|$)")
# Only these escapes are decoded; any other backslash stays as typed (\$, \0, \u, a backslash
# before a line break), exactly as python-dotenv does.
_SINGLE_ESCAPES = re.compile(r"\\([\\'])")
_DOUBLE_ESCAPES = re.compile(r"\\([\\'\"abfnrtv])")
_DOUBLE_ESCAPE_VALUES = {"\\": "\\", "'": "'", "\"": "\"", "a": "\a", "b": "\b", "f": "\f",
                         "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class EnvFileError(Exception):
    """The file cannot be read as a .env file; the message is safe to show (no content)."""


@dataclass
class Assignment:
    name: str
    value: str | None = field(repr=False)  # None for a bare NAME line without '='
    line: int = 0                             # 1-based line where the statement starts
    start: int = 0                            # character offsets in EnvFile.text of the whole
    end: int = 0                              # statement, inline comment included, line break not


@dataclass
class EnvFile:
    path: Path | None = None
    text: str = field(default="", repr=False)
    assignments: list[Assignment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bom: bool = False

    def last(self, name) -> Assignment | None:
        """The assignment that wins: the last one of that name."""
        found = None
        for assignment in self.assignments:
            if assignment.name == name:
                found = assignment
        return found

    def values(self) -> dict[str, str | None]:
        return {assignment.name: assignment.value for assignment in self.assignments}

    def duplicates(self, name) -> list[int]:
        return [a.line for a in self.assignments if a.name == name]


class _Unparseable(Exception):
    """A statement that cannot be parsed; the message is a fixed phrase, never file content."""


class _Reader:
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self._line_starts = [0] + [found.end() for found in _NEWLINE.finditer(text)]

    def line_at(self, position):
        return bisect.bisect_right(self._line_starts, position)

    def match(self, pattern):
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def at_end(self):
        return self.pos >= len(self.text)

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else ""


def _read_value(reader):
    char = reader.peek()
    if char == "'":
        found = reader.match(_SINGLE_QUOTED)
        if not found:
            raise _Unparseable("a quoted value is never closed")
        return _SINGLE_ESCAPES.sub(r"\1", found.group(1))
    if char == "\"":
        found = reader.match(_DOUBLE_QUOTED)
        if not found:
            raise _Unparseable("a quoted value is never closed")
        return _DOUBLE_ESCAPES.sub(lambda m: _DOUBLE_ESCAPE_VALUES[m.group(1)], found.group(1))
    return _strip_inline_comment(reader.match(_UNQUOTED_VALUE).group(0))


def _strip_inline_comment(raw):
    """An unquoted value ends at the first `#` that follows whitespace (python-dotenv's rule).
    Scanned by hand: the regex form backtracks quadratically over long runs of blanks."""
    position = raw.find("#", 1)
    while position != -1:
        if raw[position - 1].isspace():
            return raw[:position].rstrip()
        position = raw.find("#", position + 1)
    return raw.rstrip()


def _parse_statement(reader):
    """Parse one statement at reader.pos: (name, value), or None for a comment."""
    reader.match(_EXPORT)
    if reader.peek() == "#":
        return None
    found = reader.match(_SINGLE_QUOTED_NAME if reader.peek() == "'" else _UNQUOTED_NAME)
    if not found:
        raise _Unparseable("no variable name")
    name = found.group(1) if found.re is _SINGLE_QUOTED_NAME else found.group(0)
    reader.match(_BLANKS)
    value = None
    if reader.peek() == "=":
        equals = reader.match(_EQUALS)
        # "A= # note" is empty with a comment, but "A=#x" is the value "#x".
        value = "" if len(equals.group(0)) > 1 and reader.peek() == "#" else _read_value(reader)
    reader.match(_COMMENT)
    if not reader.match(_END_OF_LINE):
        raise _Unparseable("expected '=' after the name" if value is None
                           else "unexpected text after the closing quote")
    return name, value


def parse_env_text(text, path=None):
    """Parse .env text; lines that cannot be parsed are skipped with a warning naming the line."""
    env = EnvFile(path=path, text=text, bom=text.startswith("\ufeff"))
    reader = _Reader(text)
    reader.pos = 1 if env.bom else 0
    where = str(path) if path else ".env"
    while True:
        reader.match(_WHITESPACE_AND_NEWLINES)
        if reader.at_end():
            break
        start = reader.pos
        try:
            statement = _parse_statement(reader)
        except _Unparseable as problem:
            # Like python-dotenv: skip from where parsing stopped to the end of that line.
            reader.match(_REST_OF_LINE)
            env.warnings.append("{}: line {} could not be parsed ({}); skipped".format(
                where, reader.line_at(start), problem))
            continue
        if statement is None:
            reader.match(_REST_OF_LINE)
            continue
        name, value = statement
        env.assignments.append(Assignment(name, value, reader.line_at(start), start, reader.pos))
    return env


def decode_env_bytes(data, path=None):
    """UTF-8 (BOM stripped by the parser), never the locale's codec; binary files are refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise EnvFileError("{} is saved as UTF-16; save it as UTF-8".format(path or ".env"))
    if b"\0" in data:
        raise EnvFileError("{} looks like a binary file, not a .env file".format(path or ".env"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EnvFileError("{} is not valid UTF-8 (byte {}); save it as UTF-8".format(
            path or ".env", error.start)) from None


def read_env_file(path):
    """Read and parse a .env file, or raise EnvFileError with a message that names the file only."""
    path = Path(path)
    try:
        data = read_small_file(path, what=".env file", limit=MAX_BYTES)
    except FileNotRead as refusal:
        raise EnvFileError(str(refusal)) from None
    except PermissionError:
        raise EnvFileError("{} cannot be read: permission denied".format(path)) from None
    except OSError as error:
        raise EnvFileError("{} cannot be read: {}".format(path, error.strerror or type(error).__name__)) from None
    return parse_env_text(decode_env_bytes(data, path), path)
