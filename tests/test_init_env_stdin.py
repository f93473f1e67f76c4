"""Unit tests of how init_env.py reads standard input: never a terminal, never forever."""

import os

import pytest

import init_env
from qianwen_auth.envsetup import Refused


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
