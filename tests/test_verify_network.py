"""verify.py against the loopback fakes: every verdict that needs an answer from a server.

Official hosts are reached as themselves through the test CONNECT proxy with the test CA
(official_env), so region scans, TLS and proxies are exercised for real.
"""


import os

import pytest

from conftest import CANARY_KEY, CANARY_TOKEN_PLAN_KEY
from fakes.dashscope import REGION_HOSTS


def verify(run_script, *args, env=None, **kwargs):
    environment = {"DASHSCOPE_API_KEY": CANARY_KEY}
    environment.update(env or {})
    return run_script("verify.py", "--json", "--no-save", *args, env=environment, **kwargs)


# valid


def test_key_accepted_by_the_configured_base_url_is_valid(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    result = verify(run_script, env={"QWEN_BASE_URL": fake_dashscope.compatible_url})
    assert result.returncode == 0
    assert result.json["status"] == "valid" and result.json["ok"] is True
    assert result.json["probe"]["method"] == "GET"
    assert result.json["probe"]["url"] == fake_dashscope.url + "/api/v1/models?page_no=1&page_size=1" \
        or result.json["probe"]["url"].endswith("/compatible-mode/v1/models")
    assert result.json["probe"]["http_status"] == 200
    assert result.json["endpoint_source"] == "env:QWEN_BASE_URL"


def test_default_region_is_cn_through_the_proxy(run_script, official_env, official_dashscope):
    official_dashscope.accept(CANARY_KEY, region="cn")
    result = verify(run_script, env=official_env)
    assert result.json["status"] == "valid"
    assert result.json["region"] == "cn"
    assert result.json["probe"]["url"] == \
        "https://dashscope.aliyuncs.com/api/v1/models?page_no=1&page_size=1"
    assert [r.host for r in official_dashscope.requests] == ["dashscope.aliyuncs.com"]
    assert official_dashscope.requests[0].via_proxy


@pytest.mark.parametrize("region", ["intl", "us", "hk"])
def test_region_flag_probes_that_region(run_script, official_env, official_dashscope, region):
    official_dashscope.accept(CANARY_KEY, region=region)
    result = verify(run_script, "--region", region, env=official_env)
    assert result.json["status"] == "valid" and result.json["region"] == region
    assert official_dashscope.requests[0].host == REGION_HOSTS[region]


def test_no_tokens_are_spent_by_the_default_probe(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    verify(run_script, "--base-url", fake_dashscope.url)
    assert [r.method for r in fake_dashscope.requests] == ["GET"]
    assert "chat" not in fake_dashscope.requests[0].path


def test_the_key_travels_as_a_bearer_header_only(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    verify(run_script, "--base-url", fake_dashscope.url)
    request = fake_dashscope.requests[0]
    assert request.headers["authorization"] == "Bearer " + CANARY_KEY
    assert CANARY_KEY not in request.path


def test_gateway_prefix_is_respected(run_script, fake_dashscope):
    fake_dashscope.prefix = "/gw/qwen"
    fake_dashscope.accept(CANARY_KEY)
    result = verify(run_script, "--base-url", fake_dashscope.url + "/compatible-mode/v1/")
    assert result.json["status"] == "valid"
    assert fake_dashscope.requests[0].path.startswith("/gw/qwen/compatible-mode/v1/models")


def test_pasted_quotes_and_bearer_prefix_are_repaired_for_the_probe(run_script, project, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    (project / ".env").write_text("DASHSCOPE_API_KEY='Bearer {}  '\n".format(CANARY_KEY))
    result = run_script("verify.py", "--json", "--no-save", "--base-url", fake_dashscope.url)
    assert result.json["status"] == "valid"
    assert {"bearer_prefix", "surrounding_whitespace"} <= set(result.json["key"]["repairs"])
    assert any("repaired" in note for note in result.json["notes"])


def test_key_of_unknown_type_is_probed_with_a_warning(run_script, fake_dashscope):
    key = "c4nary7e1b5d9f3a8c2e6b0d4f7a1c9e"
    fake_dashscope.accept(key)
    result = verify(run_script, "--base-url", fake_dashscope.url, env={"DASHSCOPE_API_KEY": key},
                    secrets=(key,))
    assert result.json["status"] == "valid"
    assert result.json["key"]["type"] == "unknown"
    assert "does not start with sk-" in result.stderr


def test_human_output_for_a_valid_key(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    result = run_script("verify.py", "--no-save", "--base-url", fake_dashscope.url,
                        env={"DASHSCOPE_API_KEY": CANARY_KEY})
    assert "Status:    valid (exit 0)" in result.stdout
    assert "HTTP 200" in result.stdout


# chat fallback


@pytest.mark.parametrize("status", [404, 405])
def test_missing_free_probe_falls_back_to_chat_and_says_it_may_bill(run_script, fake_dashscope, status):
    fake_dashscope.disable_free_probes(status=status)
    fake_dashscope.accept(CANARY_KEY)
    result = verify(run_script, "--base-url", fake_dashscope.compatible_url)
    assert result.json["status"] == "valid"
    assert result.json["probe"]["method"] == "POST"
    assert any("may bill a few tokens" in note for note in result.json["notes"])
    chat = fake_dashscope.requests[-1].json
    assert chat["max_tokens"] == 1 and chat["model"] == "qwen-turbo"


def test_probe_chat_forces_the_chat_probe_with_the_chosen_model(run_script, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    result = verify(run_script, "--probe", "chat", "--model", "qwen-plus", "--base-url", fake_dashscope.url)
    assert result.json["status"] == "valid"
    assert [r.method for r in fake_dashscope.requests] == ["POST"]
    assert fake_dashscope.requests[0].json["model"] == "qwen-plus"


def test_chat_answer_without_content_is_an_api_error(run_script, fake_dashscope):
    fake_dashscope.respond(200, {"id": "x", "choices": []}, path="/compatible-mode/v1/chat/completions")
    result = verify(run_script, "--probe", "chat", "--base-url", fake_dashscope.url)
    assert result.json["status"] == "api_error"


# invalid_key and wrong_region


def test_key_rejected_everywhere_is_invalid_key(run_script, official_env, official_dashscope):
    result = verify(run_script, env=official_env)
    assert result.returncode == 1
    assert result.json["status"] == "invalid_key"
    assert result.json["probe"]["error_code"] == "InvalidApiKey"
    assert result.json["probe"]["request_id"]
    assert {r.host for r in official_dashscope.requests} == set(REGION_HOSTS.values())


def test_key_of_another_region_is_wrong_region_with_the_base_url_to_set(
        run_script, official_env, official_dashscope):
    official_dashscope.accept(CANARY_KEY, region="intl")
    result = verify(run_script, env=official_env)
    assert result.returncode == 1
    assert result.json["status"] == "wrong_region"
    assert result.json["region"] == "intl"
    assert result.json["suggested_base_url"] == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert "QWEN_BASE_URL=https://dashscope-intl.aliyuncs.com/compatible-mode/v1" in result.json["hint"]
    assert result.json["endpoint"] == "https://dashscope.aliyuncs.com/compatible-mode/v1"


def test_region_scan_sends_the_other_regions_at_once(run_script, official_env, official_dashscope):
    official_dashscope.accept(CANARY_KEY, region="hk")
    official_dashscope.latency = 0.8
    result = verify(run_script, env=official_env)
    assert result.json["status"] == "wrong_region" and result.json["region"] == "hk"
    assert len(result.json["probes"]) == 4
    # The three other regions were in flight together (make bench counts the round trips).
    assert official_dashscope.max_in_flight == 3


def test_no_region_scan_sends_one_request(run_script, official_env, official_dashscope):
    official_dashscope.accept(CANARY_KEY, region="intl")
    result = verify(run_script, "--no-region-scan", env=official_env)
    assert result.json["status"] == "invalid_key"
    assert len(official_dashscope.requests) == 1


def test_custom_host_rejection_never_sends_the_key_to_official_hosts(
        run_script, official_env, official_dashscope, fake_dashscope):
    result = verify(run_script, "--base-url", fake_dashscope.url, env=official_env)
    assert result.json["status"] == "invalid_key"
    assert official_dashscope.requests == []
    assert len(fake_dashscope.requests) == 1


def test_compatible_mode_rejection_code_is_reported(run_script, fake_dashscope):
    result = verify(run_script, "--base-url", fake_dashscope.compatible_url)
    assert result.json["status"] == "invalid_key"
    assert result.json["probe"]["error_code"] == "invalid_api_key"


# access_denied and api_error


@pytest.mark.parametrize("name", ["access_denied", "model_access_denied", "workspace_access_denied"])
def test_403_is_access_denied(run_script, fake_dashscope, name):
    fake_dashscope.fail(name)
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.returncode == 1 and result.json["status"] == "access_denied"


def test_429_is_api_error_with_retry_after(run_script, fake_dashscope):
    fake_dashscope.fail("throttling", retry_after=17)
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.returncode == 5 and result.json["status"] == "api_error"
    assert "17 seconds" in result.json["hint"]


@pytest.mark.parametrize("name,words", [("internal_error", "server error"), ("arrearage", "arrears")])
def test_server_errors_and_arrearage_are_api_errors(run_script, fake_dashscope, name, words):
    fake_dashscope.fail(name)
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.json["status"] == "api_error"
    assert words in result.json["hint"]


def test_redirect_is_reported_and_never_followed(run_script, fake_dashscope, official_dashscope, official_env):
    fake_dashscope.redirect("https://dashscope-intl.aliyuncs.com/api/v1/models?next=1")
    result = verify(run_script, "--base-url", fake_dashscope.url, env=official_env)
    assert result.json["status"] == "api_error"
    assert "https://dashscope-intl.aliyuncs.com/api/v1/models" in result.json["hint"]
    assert official_dashscope.requests == []


def test_non_json_answer_is_api_error(run_script, fake_dashscope):
    fake_dashscope.respond(200, "<html><body>Sign in</body></html>")
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.json["status"] == "api_error"
    assert "JSON" in result.json["hint"]


def test_http_200_with_a_business_error_is_api_error(run_script, fake_dashscope):
    fake_dashscope.respond(200, {"code": "InvalidParameter", "message": "bad", "request_id": "r9"})
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.json["status"] == "api_error"
    assert result.json["probe"]["error_code"] == "InvalidParameter"


def test_key_echoed_by_the_server_is_redacted_everywhere(run_script, fake_dashscope, project):
    fake_dashscope.echo_key = True
    result = run_script("verify.py", "--base-url", fake_dashscope.url, env={"DASHSCOPE_API_KEY": CANARY_KEY})
    assert result.returncode == 1
    # run_script asserts no piece of the key is in stdout, stderr or the saved evidence.
    assert "sk-***" in result.stdout or "***" in result.stdout


# unreachable


def test_refused_connection_is_unreachable(run_script, closed_port):
    result = verify(run_script, "--base-url", "http://127.0.0.1:{}".format(closed_port))
    assert result.returncode == 4
    assert result.json["unreachable_reason"] == "refused"


def test_black_holed_host_ends_within_the_timeout(run_script, blackhole):
    result = verify(run_script, "--timeout", "1", "--base-url", blackhole.url)
    assert result.json["status"] == "unreachable"
    assert result.json["unreachable_reason"] == "timeout"  # make bench measures how soon it ends


def test_slow_drip_server_cannot_stretch_the_run(run_script, slow_drip):
    result = verify(run_script, "--timeout", "1", "--base-url", slow_drip.url)
    assert result.json["unreachable_reason"] == "timeout"


def test_untrusted_certificate_is_unreachable_tls_naming_ssl_cert_file(
        run_script, official_env, connect_proxy, untrusted_dashscope):
    connect_proxy.upstream = untrusted_dashscope
    result = verify(run_script, "--no-region-scan", env=official_env)
    assert result.returncode == 4
    assert result.json["unreachable_reason"] == "tls"
    assert "SSL_CERT_FILE" in result.json["hint"]


def test_certificate_for_another_host_is_tls_failure(run_script, official_env, connect_proxy,
                                                     wrong_host_dashscope):
    connect_proxy.upstream = wrong_host_dashscope
    result = verify(run_script, "--no-region-scan", env=official_env)
    assert result.json["unreachable_reason"] == "tls"


def test_missing_ca_file_means_the_test_ca_is_not_trusted(run_script, official_env, official_dashscope):
    env = dict(official_env, SSL_CERT_FILE="")
    result = verify(run_script, "--no-region-scan", env=env)
    assert result.json["unreachable_reason"] == "tls"


def test_proxy_refusing_the_tunnel_is_a_proxy_failure(run_script, official_env, connect_proxy):
    connect_proxy.refuse(403)
    result = verify(run_script, "--no-region-scan", env=official_env)
    assert result.json["unreachable_reason"] == "proxy"
    assert "HTTPS_PROXY" in result.json["hint"]


def test_proxy_demanding_credentials_is_a_proxy_failure(run_script, official_env, connect_proxy):
    connect_proxy.require_auth("user", "pw")
    result = verify(run_script, "--no-region-scan", env=official_env)
    assert result.json["unreachable_reason"] == "proxy"


def test_dead_proxy_is_a_proxy_failure(run_script, official_env, closed_port):
    env = dict(official_env, HTTPS_PROXY="http://127.0.0.1:{}".format(closed_port),
               https_proxy="http://127.0.0.1:{}".format(closed_port))
    result = verify(run_script, "--no-region-scan", env=env)
    assert result.json["unreachable_reason"] == "proxy"


def test_no_proxy_sends_the_request_direct(run_script, official_env, fake_dashscope_tls, connect_proxy, test_ca):
    fake_dashscope_tls.accept(CANARY_KEY)
    env = dict(official_env, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    result = verify(run_script, "--base-url", fake_dashscope_tls.url, env=env)
    assert result.json["status"] == "valid"
    assert connect_proxy.connects == []


def test_proxy_credentials_never_appear_in_output(run_script, official_env, connect_proxy):
    connect_proxy.require_auth("agent", "Pr0xyPassw0rdSecret")
    url = connect_proxy.url_with_credentials("agent", "Pr0xyPassw0rdSecret")
    result = verify(run_script, "--no-region-scan", env=dict(official_env, HTTPS_PROXY=url, https_proxy=url))
    assert "Pr0xyPassw0rd" not in result.output


# Token Plan


def test_check_token_plan_reports_where_the_plan_accepts_the_key(run_script, official_env, official_dashscope):
    official_dashscope.accept(CANARY_TOKEN_PLAN_KEY, region="token_plan_intl")
    result = verify(run_script, "--check-token-plan",
                    env=dict(official_env, DASHSCOPE_API_KEY=CANARY_TOKEN_PLAN_KEY))
    assert result.returncode == 1
    assert result.json["status"] == "token_plan_key"
    assert result.json["token_plan"] == {"checked": True, "accepted": True, "region": "intl"}
    hosts = {r.host for r in official_dashscope.requests}
    assert hosts == {"token-plan.cn-beijing.maas.aliyuncs.com", "token-plan.ap-southeast-1.maas.aliyuncs.com"}


def test_check_token_plan_with_a_rejected_key(run_script, official_env, official_dashscope):
    result = verify(run_script, "--check-token-plan",
                    env=dict(official_env, DASHSCOPE_API_KEY=CANARY_TOKEN_PLAN_KEY))
    assert result.json["token_plan"] == {"checked": True, "accepted": False, "region": None}


# what the hint says next


def test_stale_exported_key_hint_points_at_the_other_source(run_script, project, fake_dashscope):
    from conftest import CANARY_KEY_OTHER
    fake_dashscope.accept(CANARY_KEY_OTHER)
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY_OTHER))
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert result.json["status"] == "invalid_key"
    assert "holds a different key" in result.json["hint"]
    assert "environment variable DASHSCOPE_API_KEY" in result.json["hint"]


def test_custom_host_rejection_says_why_no_region_was_tried(run_script, fake_dashscope):
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert "not an official host" in result.json["hint"]


def test_no_region_scan_rejection_says_so(run_script, official_env, official_dashscope):
    result = verify(run_script, "--no-region-scan", env=official_env)
    assert "--no-region-scan" in result.json["hint"]


def test_scanned_rejection_says_every_region_rejected_it(run_script, official_env, official_dashscope):
    result = verify(run_script, env=official_env)
    assert "every other official region rejected the key" in result.json["hint"]


def test_valid_but_repaired_key_asks_for_the_fix_in_the_next_step(run_script, project, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    (project / ".env").write_text('DASHSCOPE_API_KEY="Bearer {}"\n'.format(CANARY_KEY))
    os.chmod(str(project / ".env"), 0o600)
    result = run_script("verify.py", "--json", "--no-save", "--base-url", fake_dashscope.url)
    assert result.json["status"] == "valid"
    assert 'remove a leading "Bearer "' in result.json["hint"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
def test_valid_key_in_a_readable_dotenv_says_so_in_the_next_step(run_script, project, fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY))
    os.chmod(str(project / ".env"), 0o644)
    result = run_script("verify.py", "--json", "--no-save", "--base-url", fake_dashscope.url)
    assert result.json["status"] == "valid"
    assert "--fix-permissions" in result.json["hint"] and "nothing to do" not in result.json["hint"]


def test_stale_exported_key_hint_leads_with_unset_and_no_region_advice(run_script, project, fake_dashscope):
    from conftest import CANARY_KEY_OTHER
    (project / ".env").write_text("DASHSCOPE_API_KEY={}\n".format(CANARY_KEY_OTHER))
    result = verify(run_script, "--base-url", fake_dashscope.url)
    assert "unset it" in result.json["hint"] and "--region" not in result.json["hint"]


def test_wrong_region_keeps_the_probed_region_apart_from_the_key_region(
        run_script, official_env, official_dashscope):
    official_dashscope.accept(CANARY_KEY, region="intl")
    result = run_script("verify.py", "--no-save", env=dict(official_env, DASHSCOPE_API_KEY=CANARY_KEY))
    assert "Endpoint:  https://dashscope.aliyuncs.com/compatible-mode/v1 (cn, default)" in result.stdout
    data = verify(run_script, env=official_env).json
    assert (data["endpoint_region"], data["region"]) == ("cn", "intl")
