"""Fixtures shared by every test file: run a script the way an agent does, with the canary check.

Every script run goes through run_script, which fails the test if any 6-character piece of a canary
secret shows up in stdout, stderr or any file the run created or changed (rule 1 of the project).
"""

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Recognisable fake secrets, free of English words (masking is case-insensitive, and a word such as
# "secret" would mask our own text too). Any 6-character piece after the type prefix is a leak.
CANARY_KEY = "sk-c4nary7e1b5d9f3a8c2e6b0d4f7a1c9e"
CANARY_KEY_OTHER = "sk-0therb2d8f4a6c1e9b3d7f5a0c8e2b6d4"
CANARY_TOKEN_PLAN_KEY = "sk-sp-c4naryp1a4n7e2b5d8f1a3c6e9b0d4f"
CANARY_OSS_ID = "LTAI5tQ7zXk9PwR3mV8nB2cD"
CANARY_OSS_SECRET = "Zq8Wx3Rt7Yp2Lm9Kj4Hg6Fd1Sa5Qe0Nv"
CANARIES = (CANARY_KEY, CANARY_KEY_OTHER, CANARY_TOKEN_PLAN_KEY, CANARY_OSS_ID, CANARY_OSS_SECRET)


def secret_pieces(secret, size=6):
    for prefix in ("sk-sp-", "sk-"):
        if secret.startswith(prefix):
            secret = secret[len(prefix):]
            break
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def find_leaks(text, secrets=CANARIES):
    """The canary pieces found in text (an empty list when it is clean)."""
    return sorted({piece for secret in secrets for piece in secret_pieces(secret) if piece in text})


@dataclass
class ScriptResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)

    @property
    def output(self):
        return self.stdout + self.stderr


def _snapshot(folder):
    state = {}
    for path in Path(folder).rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                state[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            pass
    return state


def base_environment(home):
    """A clean environment: no proxies, no keys, no CA overrides from the machine running the tests."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "USERPROFILE": str(home),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8"}
    for name in ("SYSTEMROOT", "TMPDIR", "TEMP", "TMP"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def project(tmp_path):
    """An empty project folder to run scripts in (a git repository root by its .git marker)."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def run_script(tmp_path, home, project):
    """run_script("verify.py", "--json", env={...}, cwd=..., input=...) -> ScriptResult.

    Pass allow_key_in=[paths] for files a run is meant to write a key into (init_env --from-stdin).
    """

    def run(script, *args, env=None, cwd=None, input=None, timeout=60, allow_key_in=(),
            secrets=CANARIES, python=None):
        environment = base_environment(home)
        environment.update(env or {})
        before = _snapshot(tmp_path)
        completed = subprocess.run(
            [python or sys.executable, str(SCRIPTS / script)] + [str(a) for a in args],
            cwd=str(cwd or project), env=environment, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, timeout=timeout,
            text=isinstance(input, str) or input is None, encoding="utf-8" if not isinstance(input, bytes) else None)
        stdout = completed.stdout if isinstance(completed.stdout, str) else completed.stdout.decode("utf-8", "replace")
        stderr = completed.stderr if isinstance(completed.stderr, str) else completed.stderr.decode("utf-8", "replace")
        result = ScriptResult(completed.returncode, stdout, stderr)
        assert not find_leaks(result.output, secrets), "secret leaked to output:\n" + result.output
        allowed = {Path(p).resolve() for p in allow_key_in}
        for path, digest in _snapshot(tmp_path).items():
            if before.get(path) == digest or path.resolve() in allowed:
                continue
            leaks = find_leaks(path.read_bytes().decode("utf-8", "replace"), secrets)
            assert not leaks, "secret leaked into {}".format(path)
        assert "Traceback (most recent call last)" not in result.stderr, result.stderr
        return result

    return run


# Fixtures that start the loopback fakes (DashScope, proxy, OSS), shared by every test file.
from fakes.fixtures import *  # noqa: E402,F401,F403
from fakes.oss_fixtures import *  # noqa
