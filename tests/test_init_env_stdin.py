"""Unit tests of how init_env.py reads standard input: never a terminal, never forever."""

import json
import os
import threading
import time

import pytest

import init_env
from qianwen_auth.envsetup import Failed, Refused


@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    reader = os.fdopen(read_end, "rb", buffering=0)
    yield reader, write_end
    reader.close()
    try:
        os.close(write_end)
    except OSError:
        pass


def test_pipe_is_read_to_its_end(pipe):
    reader, write_end = pipe
    os.write(write_end, b"sk-abc\r\n")
    os.close(write_end)
    assert init_env.read_stdin_key(reader, timeout=5) == "sk-abc\r\n"


def test_open_pipe_that_never_ends_is_refused_in_time(pipe):
    reader, write_end = pipe
    os.write(write_end, b"sk-abc")
    with pytest.raises(Refused) as refused:
        init_env.read_stdin_key(reader, timeout=0.2)
    assert "pipe the key in" in str(refused.value)


def test_oversized_input_is_refused(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (init_env.MAX_STDIN_BYTES + 10))
    with open(str(big), "rb") as handle:
        with pytest.raises(Refused):
            init_env.read_stdin_key(handle, timeout=5)


class FakeStream:
    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def isatty(self):
        return False


@pytest.mark.skipif(os.name == "nt", reason="non-blocking pipes are POSIX only")
def test_non_blocking_pipe_waits_for_more_input_instead_of_ending(pipe):
    reader, write_end = pipe
    os.set_blocking(reader.fileno(), False)
    os.write(write_end, b"sk-abc")

    def finish_later():
        time.sleep(0.3)
        os.write(write_end, b"def\n")
        os.close(write_end)

    threading.Thread(target=finish_later).start()
    assert init_env.read_stdin_key(reader, timeout=5) == "sk-abcdef\n"


@pytest.mark.skipif(os.name == "nt", reason="reading a folder's descriptor is POSIX only")
def test_read_error_on_stdin_is_a_failure_not_the_end_of_input(tmp_path):
    fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        with pytest.raises(Failed) as failed:
            init_env.read_stdin_key(FakeStream(fd), timeout=5)
    finally:
        os.close(fd)
    assert "cannot be read" in str(failed.value)


def test_closed_stdin_is_refused_as_closed():
    with pytest.raises(Refused) as refused:
        init_env.read_stdin_key(None, timeout=5)
    assert "closed" in str(refused.value) and "terminal" not in str(refused.value)


def test_interrupt_while_waiting_for_stdin_prints_one_json_object(monkeypatch, capsys, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(init_env, "read_stdin_key", interrupted)
    assert init_env.main(["--from-stdin", "--json"]) == 130
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "failed" and data["exit_code"] == 130
    assert "interrupted" in data["message"]


def test_only_key_like_parts_of_refused_input_are_remembered():
    pasted = "copy it from platform.qianwenai.com then paste sk-c4nary7e1b5d9f3a8c2 here"
    assert init_env.key_like_parts(pasted) == ["sk-c4nary7e1b5d9f3a8c2"]


def test_a_usable_key_is_remembered_cleaned():
    assert init_env.key_like_parts("'Bearer sk-c4nary7e1b5d9f3a8c2'\n") == ["sk-c4nary7e1b5d9f3a8c2"]
