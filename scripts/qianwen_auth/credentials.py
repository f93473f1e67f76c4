"""The priority chain: where the family's scripts take a setting from, and what that choice hides.

Order for the API key (first non-empty wins):
  1. environment QIANWEN_API_KEY   2. environment DASHSCOPE_API_KEY
  3. ./.env (QIANWEN_API_KEY, then DASHSCOPE_API_KEY)   4. <repository root>/.env (same order)
The family loads .env files without overwriting variables that exist, so an exported variable that
is empty hides the .env value of the same name; an empty alias falls through to the next name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .envfile import EnvFileError, read_env_file

KEY_NAMES = ("QIANWEN_API_KEY", "DASHSCOPE_API_KEY")
MAX_WARNINGS_PER_FILE = 10


@dataclass
class Setting:
    """One value and where it came from. `value` is kept out of repr so it never lands in a log."""
    name: str
    value: str = field(repr=False)
    source: str = ""          # env:NAME or dotenv:<path>
    path: Path | None = None
    line: int | None = None

    @property
    def where(self):
        if self.path is None:
            return "environment variable {}".format(self.name)
        return "{} line {} ({})".format(self.path, self.line, self.name)


@dataclass
class Hidden:
    """A .env value that an exported-but-empty variable of the same name hides."""
    name: str
    path: Path
    line: int


@dataclass
class Resolution:
    found: Setting | None = None
    shadowed: list[Setting] = field(default_factory=list)
    hidden_by_empty: list[Hidden] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _quietly(check):
    """A file-system test that answers False where a folder cannot be searched (permissions)."""
    try:
        return check()
    except OSError:
        return False


def find_repo_root(start):
    """The nearest ancestor of start (start included) that holds .git or a skills/ folder."""
    start = Path(start).resolve()
    for folder in [start] + list(start.parents):
        if _quietly(lambda: (folder / ".git").exists() or (folder / "skills").is_dir()):
            return folder
    return None


def dotenv_paths(cwd):
    """The .env files the family reads, in priority order, without repeats."""
    cwd = Path(cwd).resolve()
    paths = [cwd / ".env"]
    root = find_repo_root(cwd)
    if root is not None and root / ".env" not in paths:
        paths.append(root / ".env")
    return paths


class ConfigChain:
    """Environment first, then the .env files; each .env is read once, lazily."""

    def __init__(self, environ: Mapping[str, str] | None = None, cwd=None):
        self.environ = dict(os.environ if environ is None else environ)
        self._files = None
        self.warnings: list[str] = []
        try:
            self.cwd = Path(cwd or os.getcwd())
        except OSError:  # the folder was deleted under us: the environment still counts
            self.cwd = None
            self._files = []
            self.warnings.append("the current folder cannot be read, so no .env file was read")

    def env_files(self):
        if self._files is None:
            self._files = []
            for path in dotenv_paths(self.cwd):
                if not _quietly(lambda: path.exists() or path.is_symlink()):
                    continue
                try:
                    parsed = read_env_file(path)
                except EnvFileError as error:
                    self.warnings.append(str(error))
                    continue
                self.warnings.extend(parsed.warnings[:MAX_WARNINGS_PER_FILE])
                if len(parsed.warnings) > MAX_WARNINGS_PER_FILE:
                    self.warnings.append("{}: {} more lines could not be parsed; skipped".format(
                        path, len(parsed.warnings) - MAX_WARNINGS_PER_FILE))
                self._files.append(parsed)
        return self._files

    def _dotenv_setting(self, parsed, name):
        assignment = parsed.last(name)
        if assignment is None or assignment.value is None:
            return None
        lines = parsed.duplicates(name)
        if len(lines) > 1:
            note = "{} assigns {} {} times (lines {}); the last one, line {}, is used".format(
                parsed.path, name, len(lines), ", ".join(map(str, lines)), assignment.line)
            if note not in self.warnings:
                self.warnings.append(note)
        return Setting(name, assignment.value, "dotenv:{}".format(parsed.path), parsed.path, assignment.line)

    def candidates(self, names):
        """Every place that assigns one of names, in priority order, and the .env values hidden
        by an exported empty variable."""
        found, hidden = [], []
        for name in names:
            if name in self.environ:
                found.append(Setting(name, self.environ[name], "env:" + name))
        for parsed in self.env_files():
            for name in names:
                setting = self._dotenv_setting(parsed, name)
                if setting is None:
                    continue
                if name in self.environ and not self.environ[name].strip():
                    # Loaders never overwrite an existing variable, so the empty one stays.
                    if setting.value.strip():
                        hidden.append(Hidden(name, parsed.path, setting.line))
                    continue
                # Behind a non-empty variable of the same name it can only be shadowed.
                found.append(setting)
        return found, hidden

    def resolve(self, names=KEY_NAMES) -> Resolution:
        """First non-empty value wins; later different values are reported as shadowed."""
        settings, hidden = self.candidates(names)
        result = Resolution(hidden_by_empty=hidden)
        for setting in settings:
            if not setting.value.strip():
                continue
            if result.found is None:
                result.found = setting
            elif setting.value.strip() != result.found.value.strip():
                result.shadowed.append(setting)
        result.warnings = list(self.warnings)
        return result

    def lookup(self, name) -> Setting | None:
        """A plain setting (QWEN_BASE_URL, OSS variables): environment, then the .env files."""
        return self.resolve((name,)).found

    def lookup_all(self, names) -> dict[str, Setting | None]:
        return {name: self.lookup(name) for name in names}
