"""Reading .env files the way the QianWen skill family (and python-dotenv) reads them.

Values are taken literally: no ${VAR} interpolation, because a secret may contain a dollar sign.
The parser keeps where each assignment stands (line and character offsets) so init_env.py can
replace one line and leave every other byte as it was.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

MAX_BYTES = 1024 * 1024

_SPACE = re.compile(r"[ \t\f\v]*")
_NEWLINE = re.compile(r"\r\n|\n|\r")
_EXPORT = re.compile(r"export[ \t]+")
_UNQUOTED_NAME = re.compile(r"[^=#\s'\"]+")
_REST_OF_LINE = re.compile(r"[^\r\n]*")
_UNQUOTED_VALUE = re.compile(r"[^\r\n]*")
_COMMENT_TAIL = re.compile(r"[ \t\f\v]+#.*$|^#.*$")
_DOUBLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
                   "0": "\0", "\\": "\\", "\"": "\"", "'": "'", "$": "$", "\n": ""}


class EnvFileError(Exception):
    """The file cannot be read as a .env file; the message is safe to show (no content)."""


@dataclass
class Assignment:
    name: str
    value: Optional[str] = field(repr=False)  # None for a bare NAME line without '='
    line: int = 0                             # 1-based line where the statement starts
    start: int = 0                            # character offsets of the whole statement
    end: int = 0                              # (end excludes the line break)


@dataclass
class EnvFile:
    path: Optional[Path] = None
    text: str = field(default="", repr=False)
    assignments: List[Assignment] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    bom: bool = False

    def last(self, name) -> Optional[Assignment]:
        """The assignment that wins: the last one of that name."""
        found = None
        for assignment in self.assignments:
            if assignment.name == name:
                found = assignment
        return found

    def values(self) -> Dict[str, Optional[str]]:
        return {assignment.name: assignment.value for assignment in self.assignments}

    def duplicates(self, name) -> List[int]:
        return [a.line for a in self.assignments if a.name == name]


class _Reader:
    def __init__(self, text):
        self.text = text
        self.pos = 0

    def line_at(self, position):
        return len(_NEWLINE.findall(self.text, 0, position)) + 1

    def match(self, pattern):
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def at_end(self):
        return self.pos >= len(self.text)

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else ""


def _read_quoted(reader, quote):
    """Read a quoted string starting at the opening quote; it may span lines."""
    chars = []
    index = reader.pos + 1
    text = reader.text
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if quote == "'":
                if following in ("'", "\\"):
                    chars.append(following)
                    index += 2
                    continue
            elif following in _DOUBLE_ESCAPES:
                chars.append(_DOUBLE_ESCAPES[following])
                index += 2
                continue
            chars.append(char)
            index += 1
            continue
        if char == quote:
            reader.pos = index + 1
            return "".join(chars)
        chars.append(char)
        index += 1
    return None


def _parse_statement(reader):
    """Parse one statement at reader.pos; returns (name, value) or raises ValueError."""
    reader.match(_EXPORT)
    if reader.peek() in ("'", "\""):
        name = _read_quoted(reader, reader.peek())
        if name is None:
            raise ValueError("unterminated quoted name")
    else:
        found = reader.match(_UNQUOTED_NAME)
        if not found:
            raise ValueError("no variable name")
        name = found.group(0)
    reader.match(_SPACE)
    if reader.peek() != "=":
        if reader.at_end() or reader.peek() in "\r\n" or reader.peek() == "#":
            reader.match(_REST_OF_LINE)
            return name, None
        raise ValueError("expected '='")
    reader.pos += 1
    reader.match(_SPACE)
    if reader.peek() in ("'", "\""):
        value = _read_quoted(reader, reader.peek())
        if value is None:
            raise ValueError("unterminated quoted value")
        reader.match(_SPACE)
        if reader.peek() == "#":
            reader.match(_REST_OF_LINE)
        if not (reader.at_end() or reader.peek() in "\r\n"):
            raise ValueError("text after the closing quote")
        return name, value
    raw = reader.match(_UNQUOTED_VALUE).group(0)
    return name, _COMMENT_TAIL.sub("", raw).rstrip()


def parse_env_text(text, path=None):
    """Parse .env text; lines that cannot be parsed are skipped with a warning naming the line."""
    env = EnvFile(path=path, text=text)
    if text.startswith("\ufeff"):
        env.bom = True
    reader = _Reader(text)
    reader.pos = 1 if env.bom else 0
    where = str(path) if path else ".env"
    while not reader.at_end():
        reader.match(_SPACE)
        if reader.match(_NEWLINE):
            continue
        if reader.peek() == "#" or reader.at_end():
            reader.match(_REST_OF_LINE)
            continue
        start = reader.pos
        try:
            name, value = _parse_statement(reader)
        except ValueError as problem:
            reader.pos = start
            reader.match(_REST_OF_LINE)
            env.warnings.append("{}: line {} could not be parsed ({}); skipped".format(
                where, reader.line_at(start), problem))
            continue
        env.assignments.append(Assignment(name, value, reader.line_at(start), start, reader.pos))
        reader.match(_REST_OF_LINE)
    return env


def decode_env_bytes(data, path=None):
    """UTF-8 (BOM stripped by the parser), never the locale's codec; binary files are refused."""
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
    if path.is_dir():
        raise EnvFileError("{} is a directory, not a .env file".format(path))
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise EnvFileError("{} is {} bytes; a .env file over {} bytes is not read".format(
                path, size, MAX_BYTES))
        with open(str(path), "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except EnvFileError:
        raise
    except PermissionError:
        raise EnvFileError("{} cannot be read: permission denied".format(path)) from None
    except OSError as error:
        raise EnvFileError("{} cannot be read: {}".format(path, error.strerror or type(error).__name__)) from None
    if len(data) > MAX_BYTES:
        raise EnvFileError("{} is larger than {} bytes and is not read".format(path, MAX_BYTES))
    return parse_env_text(decode_env_bytes(data, path), path)
