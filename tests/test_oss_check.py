"""The OSS probe against the fake OSS endpoint: each failure becomes the right verdict and step states."""

import json
import re
import socket
import time

import pytest

from conftest import CANARY_OSS_ID, CANARY_OSS_SECRET, find_leaks
from fakes.oss_fixtures import case_folded_leaks
from qianwen_auth.credentials import ConfigChain
from qianwen_auth.oss_check import oss_exit_code, oss_secrets, parse_error, run_oss_check
from qianwen_auth.probe import Exchange


def run(oss_env, tmp_path, timeout=5.0, **changes):
    environ = dict(oss_env)
    environ.update(changes)
    result = run_oss_check(ConfigChain(environ=environ, cwd=tmp_path), time.monotonic() + timeout)
    shown = json.dumps(result.to_json()) + "\n".join(result.lines())
    assert not find_leaks(shown), shown
    assert not case_folded_leaks(shown), shown
    return result


ECHOED = pytest.mark.parametrize("echoed", [CANARY_OSS_SECRET, CANARY_OSS_ID], ids=["secret", "id"])


def test_healthy_bucket_passes_every_step_and_leaves_nothing(fake_oss, oss_env, tmp_path):
    result = run(oss_env, tmp_path)
    assert result.status == "ok" and result.ok
    assert result.steps == {"put": "ok", "get": "ok", "delete": "ok"}
    assert result.left_behind is None and fake_oss.objects == {}


def test_every_request_carries_a_signature_the_fake_accepts(fake_oss, oss_env, tmp_path):
    run(oss_env, tmp_path)
    assert [r.method for r in fake_oss.requests] == ["PUT", "GET", "DELETE"]
    assert all(r.signature_ok for r in fake_oss.requests)


def test_the_content_type_sent_is_the_one_signed(fake_oss, oss_env, tmp_path):
    run(oss_env, tmp_path)
    put = fake_oss.requests_by("PUT")[0]
    assert put.headers["content-type"] == "text/plain; charset=utf-8"


def test_probe_object_lives_under_the_prefix_auth_probe_folder(fake_oss, oss_env, tmp_path):
    result = run(oss_env, tmp_path, QWEN_TMP_OSS_PREFIX="media/in")
    assert re.match(r"^media/in/\.auth-probe/\d{8}T\d{6}Z-[0-9a-f]{8}\.txt$", result.object_key)
    assert fake_oss.requests[0].key == result.object_key


def test_least_privilege_keys_pass_and_name_the_object_left_behind(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.denied = {"DeleteObject"}
    result = run(oss_env, tmp_path)
    assert result.status == "ok"
    assert result.steps == {"put": "ok", "get": "ok", "delete": "denied"}
    assert result.left_behind == result.object_key
    assert any(result.object_key in note for note in result.notes)
    assert "lifecycle" in result.hint and ".auth-probe/" in result.hint


def test_denied_put_names_put_object_and_skips_the_rest(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.denied = {"PutObject", "DeleteObject"}
    result = run(oss_env, tmp_path)
    assert result.status == "access_denied" and result.error_code == "AccessDenied"
    assert result.steps == {"put": "denied", "get": "skipped", "delete": "skipped"}
    assert "oss:PutObject" in result.hint
    assert [r.method for r in fake_oss.requests] == ["PUT"]


def test_denied_get_names_get_object_and_still_tries_delete(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.denied = {"GetObject"}
    result = run(oss_env, tmp_path)
    assert result.status == "access_denied"
    assert result.steps == {"put": "ok", "get": "denied", "delete": "ok"}
    assert "oss:GetObject" in result.hint


def test_unknown_access_key_id_is_invalid_credentials(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.disabled_ids = {CANARY_OSS_ID}
    result = run(oss_env, tmp_path)
    assert result.status == "invalid_credentials" and result.error_code == "InvalidAccessKeyId"
    assert result.steps["get"] == "skipped"


def test_wrong_secret_is_invalid_credentials_and_the_echoed_id_is_not_shown(fake_oss, oss_env, tmp_path):
    result = run(oss_env, tmp_path, QWEN_TMP_OSS_AK_SECRET="Wr0ngK3yQ0a1b2c3d4e5f6g7h8i9jZ")
    assert result.status == "invalid_credentials" and result.error_code == "SignatureDoesNotMatch"
    assert fake_oss.requests[0].signature_ok is False
    assert "secret" in result.hint


@pytest.mark.parametrize("as_redirect", [False, True])
def test_bucket_in_another_region_suggests_the_right_one(fake_oss, oss_env, tmp_path, as_redirect):
    fake_oss.scenario.bucket_region = "cn-shanghai"
    fake_oss.scenario.wrong_region_as_redirect = as_redirect
    result = run(oss_env, tmp_path)
    assert result.status == "wrong_region" and result.suggested_region == "cn-shanghai"
    assert "QWEN_TMP_OSS_REGION=cn-shanghai" in result.hint


def test_missing_bucket_is_no_such_bucket(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.bucket_exists = False
    result = run(oss_env, tmp_path)
    assert result.status == "no_such_bucket" and result.http_status == 404
    assert result.request_id


def test_public_endpoint_forbidden_points_at_the_endpoint_setting(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.public_endpoint_forbidden = True
    result = run(oss_env, tmp_path)
    assert result.status == "endpoint_forbidden"
    assert "QWEN_TMP_OSS_ENDPOINT" in result.hint and "custom domain" in result.hint


def test_get_returning_other_bytes_is_an_error(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.corrupt_reads = True
    result = run(oss_env, tmp_path)
    assert result.status == "error" and result.error_code == "ContentMismatch"
    assert result.steps == {"put": "ok", "get": "error", "delete": "ok"}


def test_error_carried_only_in_the_x_oss_err_header_is_read(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.errors_in_header = True
    fake_oss.scenario.bucket_exists = False
    assert run(oss_env, tmp_path).status == "no_such_bucket"


def test_non_xml_server_error_is_error_with_the_http_status(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.fail_with = (503, None)
    result = run(oss_env, tmp_path)
    assert result.status == "error" and result.http_status == 503


def test_clock_skew_says_to_fix_the_system_time(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.fail_with = (403, "RequestTimeTooSkewed")
    assert "clock" in run(oss_env, tmp_path).hint


def test_redirect_is_not_followed(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.redirect_to = "https://elsewhere.example/x?Signature=abc"
    result = run(oss_env, tmp_path)
    assert result.status == "error" and "redirect" in result.hint
    assert "Signature=abc" not in result.hint
    assert len(fake_oss.requests) == 1


def test_refused_connection_is_unreachable(oss_env, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(oss_env, tmp_path, QWEN_TMP_OSS_ENDPOINT="http://127.0.0.1:{}".format(port))
    assert result.status == "unreachable" and result.error_code == "refused"
    assert result.steps == {"put": "error", "get": "skipped", "delete": "skipped"}


def test_slow_endpoint_ends_at_the_deadline_as_unreachable(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.delay = 2.0
    result = run(oss_env, tmp_path, timeout=0.4)
    assert result.status == "unreachable" and result.error_code == "timeout"


def test_config_error_sends_nothing(fake_oss, oss_env, tmp_path):
    environ = dict(oss_env)
    del environ["QWEN_TMP_OSS_AK_SECRET"]
    result = run_oss_check(ConfigChain(environ=environ, cwd=tmp_path), time.monotonic() + 5)
    assert result.status == "config_error" and "QWEN_TMP_OSS_AK_SECRET" in result.hint
    assert fake_oss.requests == []


def test_not_configured_is_information_not_failure(tmp_path):
    result = run_oss_check(ConfigChain(environ={}, cwd=tmp_path), time.monotonic() + 5)
    assert result.status == "not_configured" and not result.configured and not result.failed


def test_json_object_has_the_documented_fields(fake_oss, oss_env, tmp_path):
    data = run(oss_env, tmp_path).to_json()
    for name in ("configured", "status", "bucket", "region", "endpoint", "credentials_source", "fingerprint",
                 "steps", "error_code", "hint", "notes"):
        assert name in data
    assert set(data["steps"]) == {"put", "get", "delete"}


def test_secrets_sink_and_oss_secrets_give_both_halves(oss_env, tmp_path):
    sink = []
    chain = ConfigChain(environ={k: v for k, v in oss_env.items() if k != "QWEN_TMP_OSS_ENDPOINT"} , cwd=tmp_path)
    assert sorted(oss_secrets(chain)) == sorted([CANARY_OSS_ID, CANARY_OSS_SECRET])
    run_oss_check(ConfigChain(environ={"QWEN_TMP_OSS_BUCKET": "x"}, cwd=tmp_path), time.monotonic(), sink)
    assert sink == []


def test_parse_error_reads_only_safe_fields_from_an_echoing_body():
    body = ("<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><RequestId>R1</RequestId>"
            "<OSSAccessKeyId>{}</OSSAccessKeyId></Error>").format(CANARY_OSS_ID).encode()
    error = parse_error(Exchange("PUT", "u", status=403, body=body))
    assert (error.code, error.message, error.request_id) == ("SignatureDoesNotMatch", "m", "R1")
    assert not find_leaks(repr(error))


@pytest.mark.parametrize("status,key_exit,oss_only,expected", [
    ("ok", 0, False, 0), ("not_configured", 0, False, 0), ("access_denied", 0, False, 6),
    ("access_denied", 1, False, 1), ("ok", 3, False, 3),
    ("ok", None, True, 0), ("not_configured", None, True, 0), ("config_error", None, True, 6),
    ("unreachable", None, True, 6)])
def test_exit_code_rules(status, key_exit, oss_only, expected):
    from qianwen_auth.oss_check import OssResult
    assert oss_exit_code(OssResult(status=status), key_exit, oss_only) == expected


def test_a_rejection_that_is_not_a_permission_marks_the_step_error(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.bucket_region = "cn-shanghai"
    assert run(oss_env, tmp_path).steps == {"put": "error", "get": "skipped", "delete": "skipped"}


# Server-provided fields are checked before they are copied into the result: a server (or a proxy
# playing one) may echo the AccessKey in any case, or send anything at all.

# 7 characters of each half, lowercased where the original has capitals.
@pytest.mark.parametrize("echoed", [CANARY_OSS_SECRET[4:11], CANARY_OSS_ID[:7]], ids=["secret", "id"])
def test_wrong_region_endpoint_echoing_the_access_key_lowercased_suggests_no_region(
        fake_oss, oss_env, tmp_path, echoed):
    fake_oss.scenario.bucket_region = "cn-shanghai"
    fake_oss.scenario.error_endpoint = "oss-cn-{}.aliyuncs.com".format(echoed.lower())
    result = run(oss_env, tmp_path)
    assert result.status == "wrong_region" and result.suggested_region is None
    assert "set QWEN_TMP_OSS_REGION to the bucket's region" in result.hint


@pytest.mark.parametrize("endpoint", ["oss-x.aliyuncs.com", "oss-cn-{}.aliyuncs.com".format("a" * 40),
                                      "oss-CN-Shanghai.aliyuncs.com"])
def test_region_suggestion_that_does_not_look_like_a_region_is_dropped(fake_oss, oss_env, tmp_path, endpoint):
    fake_oss.scenario.bucket_region = "cn-shanghai"
    fake_oss.scenario.error_endpoint = endpoint
    assert run(oss_env, tmp_path).suggested_region is None


def test_error_code_that_does_not_look_like_a_code_is_shown_as_unrecognised(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.fail_with = (500, "Internal Error; see http://x")
    result = run(oss_env, tmp_path)
    assert result.status == "error" and result.error_code == "unrecognised"
    assert "Internal Error; see" not in result.hint


@ECHOED
def test_error_code_echoing_the_access_key_lowercased_is_shown_as_unrecognised(
        fake_oss, oss_env, tmp_path, echoed):
    fake_oss.scenario.fail_with = (500, echoed.lower())
    assert run(oss_env, tmp_path).error_code == "unrecognised"


@pytest.mark.parametrize("request_id", ["R" * 65, "5C3D 9A; drop"])
def test_request_id_that_does_not_look_like_one_is_dropped(fake_oss, oss_env, tmp_path, request_id):
    fake_oss.scenario.bucket_exists = False
    fake_oss.scenario.error_request_id = request_id
    result = run(oss_env, tmp_path)
    assert result.request_id != request_id and request_id not in result.hint


@ECHOED
def test_request_id_echoing_the_access_key_lowercased_is_dropped(fake_oss, oss_env, tmp_path, echoed):
    fake_oss.scenario.bucket_exists = False
    fake_oss.scenario.error_request_id = echoed.lower()
    assert run(oss_env, tmp_path).request_id != echoed.lower()


@ECHOED
def test_redirect_location_echoing_the_access_key_lowercased_is_masked(fake_oss, oss_env, tmp_path, echoed):
    fake_oss.scenario.redirect_to = "https://elsewhere.example/{}".format(echoed.lower())
    result = run(oss_env, tmp_path)
    assert "redirect" in result.hint and "elsewhere.example" in result.hint


@ECHOED
def test_x_oss_err_header_echoing_the_access_key_lowercased_is_masked(fake_oss, oss_env, tmp_path, echoed):
    fake_oss.scenario.errors_in_header = True
    fake_oss.scenario.fail_with = (403, echoed.lower())
    assert run(oss_env, tmp_path).status == "error"


def test_huge_error_code_and_message_are_bounded(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.fail_with = (500, "C" * 300000)
    result = run(oss_env, tmp_path)
    shown = json.dumps(result.to_json())
    assert result.error_code == "unrecognised" and len(shown) < 4000
    assert any(note.endswith("...") for note in result.notes)


# Hints for failures that happen before OSS answers: the most likely cause first.

def failure_hint(tmp_path, kind, detail="", **settings):
    from qianwen_auth.oss_check import network_hint
    from qianwen_auth.oss_config import load_oss_config
    environ = {"QWEN_TMP_OSS_BUCKET": "my-uploads", "QWEN_TMP_OSS_REGION": "cn-beijing",
               "QWEN_TMP_OSS_AK_ID": CANARY_OSS_ID, "QWEN_TMP_OSS_AK_SECRET": CANARY_OSS_SECRET}
    environ.update(settings)
    config = load_oss_config(ConfigChain(environ=environ, cwd=tmp_path))
    return network_hint(config, Exchange("PUT", config.endpoint, error=kind, detail=detail))


def test_dns_failure_for_the_official_host_leads_with_the_network(tmp_path):
    hint = failure_hint(tmp_path, "dns", "[Errno -3] Temporary failure in name resolution")
    assert hint.index("DNS") < hint.index("QWEN_TMP_OSS_REGION")
    assert "VPN" in hint and "proxy" in hint and "QWEN_TMP_OSS_ENDPOINT" not in hint


def test_dns_failure_for_a_configured_endpoint_names_the_endpoint_second(tmp_path):
    hint = failure_hint(tmp_path, "dns", QWEN_TMP_OSS_ENDPOINT="files.example.com")
    assert hint.index("DNS") < hint.index("QWEN_TMP_OSS_ENDPOINT") and "files.example.com" in hint


def test_untrusted_certificate_points_at_ssl_cert_file(tmp_path):
    hint = failure_hint(tmp_path, "tls", "unable to get local issuer certificate")
    assert "not trusted" in hint and "SSL_CERT_FILE" in hint


def test_certificate_for_another_host_says_it_does_not_name_the_host(tmp_path):
    hint = failure_hint(tmp_path, "tls", "Hostname mismatch, certificate is not valid for 'files.example.com'.",
                        QWEN_TMP_OSS_ENDPOINT="files.example.com")
    assert "does not name" in hint and "QWEN_TMP_OSS_ENDPOINT" in hint and "not trusted" not in hint


def test_tls_protocol_error_says_the_endpoint_does_not_speak_tls(tmp_path):
    hint = failure_hint(tmp_path, "tls", "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
                        QWEN_TMP_OSS_ENDPOINT="https://127.0.0.1:8080")
    assert "TLS" in hint and "port" in hint and "certificate" not in hint


def test_https_to_a_plain_http_port_is_a_tls_protocol_error_not_a_certificate_one(fake_oss, oss_env, tmp_path):
    result = run(oss_env, tmp_path, QWEN_TMP_OSS_ENDPOINT=fake_oss.url.replace("http://", "https://"))
    assert (result.status, result.error_code) == ("unreachable", "tls_handshake")
    assert "port" in result.hint and "not trusted" not in result.hint


def test_non_oss_answer_says_the_endpoint_did_not_answer_like_oss(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.fail_with = (501, None)
    result = run(oss_env, tmp_path)
    assert result.status == "error" and result.http_status == 501
    assert "501" in result.hint and "not answer like OSS" in result.hint
    assert "request id" not in result.hint and "message" not in result.hint


def test_unmapped_oss_error_names_its_code_and_request_id(fake_oss, oss_env, tmp_path):
    fake_oss.scenario.fail_with = (500, "InternalError")
    result = run(oss_env, tmp_path)
    assert "HTTP 500 InternalError" in result.hint and result.request_id in result.hint


def test_error_body_of_unclosed_tags_is_read_in_linear_time():
    body = b"<Error>" + b"<Code><Message><RequestId><Endpoint>" * 20000
    error = parse_error(Exchange("PUT", "u", status=500, body=body))
    assert error.code is None  # make bench times this input


def test_control_characters_in_a_server_message_become_spaces():
    body = b"<Error><Code>InternalError</Code><Message>red\x1b[31m\nline\xe2\x80\xae</Message></Error>"
    assert parse_error(Exchange("PUT", "u", status=500, body=body)).message == "red [31m line"


def test_code_with_a_trailing_line_break_is_unrecognised():
    from qianwen_auth.oss_answer import safe_code
    assert safe_code("AccessDenied\n", []) == "unrecognised"
