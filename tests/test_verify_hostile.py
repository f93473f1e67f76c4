"""verify.py against hostile servers, broken machines and confused input: never a leak, never a
traceback, always the documented exit code and (with --json) exactly one JSON object."""

import json
import os
import subprocess
import sys

import pytest

from conftest import CANARY_KEY, SCRIPTS, base_environment


def verify(run_script, *args, env=None, **kwargs):
    environment = {"DASHSCOPE_API_KEY": CANARY_KEY}
    environment.update(env or {})
    return run_script("verify.py", "--json", "--no-save", *args, env=environment, **kwargs)


def test_key_echoed_in_upper_case_is_masked(run_script, fake_dashscope):
    fake_dashscope.respond(401, {"code": "InvalidApiKey", "message": "bad key " + CANARY_KEY.upper()})
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.json["status"] == "invalid_key"
    assert CANARY_KEY.upper()[3:9] not in result.stdout


def test_key_echoed_as_the_error_code_is_masked_in_evidence_too(run_script, fake_dashscope, project):
    fake_dashscope.respond(400, {"code": CANARY_KEY, "message": "x", "request_id": CANARY_KEY})
    result = run_script("verify.py", "--json", "--base-url", fake_dashscope.url,
                        env={"DASHSCOPE_API_KEY": CANARY_KEY})
    assert result.json["status"] == "api_error"
    # run_script has checked stdout, stderr and the evidence file for every piece of the key.
    assert result.json["evidence"]


def test_error_code_that_is_an_object_is_not_shown(run_script, fake_dashscope):
    fake_dashscope.respond(400, {"code": {"nested": "thing"}, "message": "x"})
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.json["probe"]["error_code"] is None
    assert "{" not in result.json["hint"]


def test_deeply_nested_body_is_an_api_error_not_a_crash(run_script, fake_dashscope):
    fake_dashscope.respond(200, "[" * 100000 + "]" * 100000)
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.returncode == 5 and result.json["status"] == "api_error"


@pytest.mark.parametrize("reply", [
    b"GARBAGE\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_answer_in_broken_http_is_an_api_error(run_script, raw_reply, reply):
    raw_reply.reply = reply
    result = verify(run_script, "--base-url", raw_reply.url)
    assert result.json["status"] == "api_error"
    assert "valid HTTP" in result.json["hint"]


def test_https_to_a_plain_http_port_is_a_tls_handshake_failure(run_script, fake_dashscope):
    result = verify(run_script, "--base-url", fake_dashscope.url.replace("http://", "https://"))
    assert result.json["status"] == "unreachable"
    assert result.json["unreachable_reason"] == "tls_handshake"


def test_missing_ca_file_is_named(run_script, fake_dashscope_tls, tmp_path):
    result = verify(run_script, "--base-url", fake_dashscope_tls.url,
                    env={"SSL_CERT_FILE": str(tmp_path / "nowhere.pem")})
    assert result.json["unreachable_reason"] == "ca_file"
    assert "nowhere.pem is not a file" in result.json["problem_detail"]


def test_ca_file_without_certificates_is_named(run_script, fake_dashscope_tls, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    result = verify(run_script, "--base-url", fake_dashscope_tls.url, env={"SSL_CERT_FILE": str(bad)})
    assert result.json["unreachable_reason"] == "ca_file"


def test_loopback_never_goes_through_a_proxy(run_script, fake_dashscope, connect_proxy):
    fake_dashscope.accept(CANARY_KEY)
    result = verify(run_script, "--base-url", fake_dashscope.url,
                    env={"http_proxy": connect_proxy.url, "HTTP_PROXY": connect_proxy.url})
    assert result.json["status"] == "valid"
    assert connect_proxy.requests == [] and not fake_dashscope.requests[0].via_proxy


def test_malformed_proxy_url_is_named_without_its_text(run_script, official_env):
    proxy = "http://127.0.0.1:Pr0xyPassw0rdSecret"
    result = verify(run_script, "--no-region-scan", env=dict(official_env, HTTPS_PROXY=proxy, https_proxy=proxy))
    assert result.json["unreachable_reason"] == "proxy"
    assert "malformed" in result.json["problem_detail"]
    assert "Passw0rd" not in result.output


def test_model_name_cannot_inject_fields_into_the_chat_body(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    verify(run_script, "--probe", "chat", "--model", 'qwen","max_tokens":9999,"x":"', "--base-url", fake_dashscope.url)
    body = fake_dashscope.requests[0].json
    assert body["max_tokens"] == 1 and body["model"] == 'qwen","max_tokens":9999,"x":"'


def test_non_ascii_model_name_is_sent_as_json(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    result = verify(run_script, "--probe", "chat", "--model", "通义千问", "--base-url", fake_dashscope.url)
    assert result.json["status"] == "valid"


def test_ascii_only_console_still_gets_the_verdict(run_script, fake_dashscope):
    fake_dashscope.respond(401, {"code": "InvalidApiKey", "message": "无效的 API Key \ud800"})
    result = verify(run_script, "--base-url", fake_dashscope.url, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 1 and result.json["status"] == "invalid_key"
    text = run_script("verify.py", "--no-save", "--base-url", fake_dashscope.url,
                      env={"PYTHONIOENCODING": "ascii", "DASHSCOPE_API_KEY": CANARY_KEY})
    assert text.returncode == 1 and "Status:    invalid_key" in text.stdout


@pytest.mark.skipif(os.name == "nt", reason="environment values are Unicode on Windows")
def test_undecodable_byte_in_the_key_variable_is_an_invalid_key(run_script):
    result = verify(run_script, env={"DASHSCOPE_API_KEY": CANARY_KEY + "\udcff"})
    assert result.json["status"] == "invalid_key"
    assert "non_ascii_character" in result.json["key"]["problems"]


def test_key_typed_as_an_argument_is_not_echoed(run_script):
    result = run_script("verify.py", "--json", "--region", CANARY_KEY)
    assert result.returncode == 2 and result.json["status"] == "config_error"


def test_abbreviated_flags_are_not_accepted(run_script):
    result = run_script("verify.py", "--js")
    assert result.returncode == 2 and "unrecognized arguments: --js" in result.stderr


def test_json_with_a_value_is_a_usage_error_in_json(run_script):
    result = run_script("verify.py", "--json=1")
    assert result.returncode == 2 and result.json["status"] == "config_error"


def test_closed_reader_keeps_the_verdicts_exit_code(tmp_path):
    process = subprocess.Popen([sys.executable, str(SCRIPTS / "verify.py"), "--json", "--no-save"],
                               cwd=str(tmp_path), env=base_environment(tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    process.stdout.read(1)
    process.stdout.close()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 3
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_on_stdout_keeps_the_exit_code(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, str(SCRIPTS / "verify.py"), "--no-save"], cwd=str(tmp_path),
                              env=base_environment(tmp_path), stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 3
    assert b"Traceback" not in done.stderr and b"Exception ignored" not in done.stderr


def run_verify_in_a_deleted_folder(tmp_path, *args):
    """verify.py started in a folder that is removed just before it runs."""
    gone = tmp_path / "gone"
    gone.mkdir()
    command = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    return subprocess.run(["sh", "-c", command, "sh", str(gone), sys.executable, str(SCRIPTS / "verify.py")]
                          + list(args), env=base_environment(tmp_path), capture_output=True, text=True)


@pytest.mark.skipif(os.name == "nt", reason="POSIX shell")
def test_deleted_current_folder_is_a_config_error(tmp_path):
    done = run_verify_in_a_deleted_folder(tmp_path, "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["status"] == "config_error"


def test_thousands_of_bad_lines_give_a_handful_of_warnings(run_script, project):
    (project / ".env").write_text("not valid\n" * 5000)
    result = run_script("verify.py", "--json", "--no-save")
    assert result.json["status"] == "not_configured"
    assert len(result.json["warnings"]) <= 11
    assert "4990 more lines could not be parsed" in result.stderr


@pytest.mark.parametrize("value,problem", [
    ("DASHSCOPE_API_KEY=" + CANARY_KEY, "looks_like_assignment"),
    ('"' + CANARY_KEY, "unbalanced_quote"),
])
def test_confused_pastes_are_refused_before_sending(run_script, fake_dashscope, value, problem):
    result = verify(run_script, "--base-url", fake_dashscope.url, env={"DASHSCOPE_API_KEY": value})
    assert result.json["status"] == "invalid_key" and problem in result.json["key"]["problems"]
    assert fake_dashscope.requests == []


@pytest.mark.parametrize("base_url", ["https://dashscope.aliyuncs.com:0/", "http://evil.localhost:8080"])
def test_port_zero_and_localhost_subdomains_are_refused(run_script, base_url):
    assert verify(run_script, "--base-url", base_url).json["status"] == "config_error"


def test_placeholder_words_are_not_masked_in_hints(run_script):
    result = run_script("verify.py", "--json", "--no-save", env={"DASHSCOPE_API_KEY": "your_api_key"})
    assert result.json["status"] == "not_configured"
    assert "***" not in result.json["hint"] and "api-keys" in result.json["hint"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX shell")
def test_oss_check_in_a_deleted_folder_is_no_crash(tmp_path):
    done = run_verify_in_a_deleted_folder(tmp_path, "--oss", "--json", "--no-save")
    assert done.returncode == 2 and json.loads(done.stdout)["status"] == "config_error"
