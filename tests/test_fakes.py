"""The loopback fakes behave like the services they stand in for, seen through urllib and http.client
the way the scripts see them. Every other test file relies on these servers."""

import http.client
import json
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections import namedtuple

import pytest

from conftest import CANARY_KEY, CANARY_KEY_OTHER, CANARY_TOKEN_PLAN_KEY
from fakes.dashscope import FakeDashScope

NATIVE_PROBE = "/api/v1/models?page_no=1&page_size=1"
INTL = "https://dashscope-intl.aliyuncs.com"
CN = "https://dashscope.aliyuncs.com"

Answer = namedtuple("Answer", "status headers body")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, key=None, method="GET", payload=None, proxy=None, cafile=None, timeout=5, headers=None):
    """One request as the scripts send it: urllib, no redirects, an explicit proxy and CA."""
    handlers = [urllib.request.ProxyHandler({"https": proxy, "http": proxy} if proxy else {}), _NoRedirect()]
    if cafile:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(cafile))))
    headers = dict(headers or {})
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(payload).encode("utf-8") if payload is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers, error.read())


def chat_payload(model="qwen-turbo"):
    return {"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}


# -- the fake DashScope on plain HTTP -------------------------------------------------------------------

def test_accepted_key_gets_a_native_models_page_with_request_id(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    body = json.loads(answer.body)
    assert answer.status == 200
    assert body["output"]["models"]
    assert body["request_id"] == answer.headers["x-request-id"]


def test_unknown_key_gets_the_native_invalid_api_key_body(fake_dashscope):
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    body = json.loads(answer.body)
    assert answer.status == 401
    assert body["code"] == "InvalidApiKey" and body["message"] == "Invalid API-key provided."
    assert body["request_id"]


def test_compatible_mode_rejection_uses_the_openai_error_shape(fake_dashscope):
    answer = fetch(fake_dashscope.compatible_url + "/models", CANARY_KEY)
    error = json.loads(answer.body)["error"]
    assert answer.status == 401
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_api_key"


def test_missing_authorization_is_rejected_as_no_api_key(fake_dashscope):
    answer = fetch(fake_dashscope.url + NATIVE_PROBE)
    assert answer.status == 401
    assert json.loads(answer.body)["message"] == "No API-key provided."


def test_compatible_models_list_answers_an_accepted_key(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    answer = fetch(fake_dashscope.compatible_url + "/models", CANARY_KEY)
    assert answer.status == 200
    assert json.loads(answer.body)["data"][0]["id"]


def test_chat_completion_returns_message_content(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    answer = fetch(fake_dashscope.compatible_url + "/chat/completions", CANARY_KEY, "POST", chat_payload("qwen-max"))
    body = json.loads(answer.body)
    assert answer.status == 200
    assert body["choices"][0]["message"]["content"]
    assert fake_dashscope.requests[0].json["model"] == "qwen-max"


def test_chat_without_messages_is_an_invalid_parameter(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    answer = fetch(fake_dashscope.compatible_url + "/chat/completions", CANARY_KEY, "POST", {"model": "x"})
    assert answer.status == 400
    assert json.loads(answer.body)["error"]["code"] == "invalid_parameter_error"


def test_wrong_method_on_a_known_route_is_405(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    assert fetch(fake_dashscope.compatible_url + "/chat/completions", CANARY_KEY).status == 405


def test_loopback_requests_belong_to_the_default_region(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY, region="intl")
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == 401
    fake_dashscope.default_region = "intl"
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == 200
    assert [r.region for r in fake_dashscope.requests] == ["cn", "intl"]


def test_gateway_prefix_serves_the_routes_only_under_it(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.prefix = "/gateway"
    assert fake_dashscope.url.endswith("/gateway")
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == 200
    assert fetch(fake_dashscope.compatible_url + "/models", CANARY_KEY).status == 200
    assert fetch(fake_dashscope.url.replace("/gateway", "") + NATIVE_PROBE, CANARY_KEY).status == 404


def test_requests_record_method_path_host_body_and_key(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fetch(fake_dashscope.compatible_url + "/chat/completions", CANARY_KEY, "POST", chat_payload())
    record = fake_dashscope.requests[0]
    assert (record.method, record.path, record.host) == ("POST", "/compatible-mode/v1/chat/completions", "127.0.0.1")
    assert record.headers["content-type"] == "application/json"
    assert record.key == CANARY_KEY and not record.via_proxy
    assert fake_dashscope.keys_seen() == [CANARY_KEY]


def test_recorded_request_repr_never_shows_the_key(fake_dashscope):
    fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert CANARY_KEY[3:] not in repr(fake_dashscope.requests)


def test_reset_forgets_keys_scenarios_and_requests(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.fail("internal_error")
    fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    fake_dashscope.reset()
    assert fake_dashscope.requests == []
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == 401


# -- scenarios ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, status, code", [
    ("access_denied", 403, "AccessDenied"),
    ("model_access_denied", 403, "Model.AccessDenied"),
    ("workspace_access_denied", 403, "Workspace.AccessDenied"),
    ("arrearage", 400, "Arrearage"),
    ("internal_error", 500, "InternalError"),
])
def test_named_errors_answer_with_the_real_status_and_code(fake_dashscope, name, status, code):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.fail(name)
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    body = json.loads(answer.body)
    assert (answer.status, body["code"]) == (status, code)
    assert body["request_id"] == answer.headers["x-request-id"]


def test_named_error_on_a_compatible_route_uses_the_compatible_shape(fake_dashscope):
    fake_dashscope.fail("arrearage")
    error = json.loads(fetch(fake_dashscope.compatible_url + "/models", CANARY_KEY).body)["error"]
    assert error["code"] == "Arrearage" and "good standing" in error["message"]


def test_throttling_answers_429_with_retry_after(fake_dashscope):
    fake_dashscope.fail("throttling", retry_after=7)
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert answer.status == 429 and answer.headers["Retry-After"] == "7"
    assert json.loads(answer.body)["code"] == "Throttling"


def test_business_error_can_come_with_status_200(fake_dashscope):
    fake_dashscope.fail("arrearage", status=200)
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert answer.status == 200 and json.loads(answer.body)["code"] == "Arrearage"


@pytest.mark.parametrize("body, content_type", [
    ("<html><body>502 Bad Gateway</body></html>", "text/html; charset=utf-8"),
    ("not json at all", "text/plain; charset=utf-8"),
    ({"code": "Whatever", "message": "a gateway's own error"}, "application/json"),
])
def test_canned_answers_are_sent_as_given(fake_dashscope, body, content_type):
    fake_dashscope.respond(502, body, path="/api/v1/models")
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert answer.status == 502 and answer.headers["Content-Type"] == content_type
    assert "x-request-id" not in answer.headers


def test_canned_empty_body(fake_dashscope):
    fake_dashscope.respond(200)
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert (answer.status, answer.body) == (200, b"")


def test_scenario_for_one_path_leaves_the_others_alone(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.fail("internal_error", path="/compatible-mode/v1/models")
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == 200
    assert fetch(fake_dashscope.compatible_url + "/models", CANARY_KEY).status == 500


def test_once_scenario_answers_a_single_request(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.fail("internal_error", once=True)
    statuses = [fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status for _ in range(2)]
    assert statuses == [500, 200]


def test_redirect_answers_with_location_and_is_not_followed(fake_dashscope):
    fake_dashscope.redirect("https://evil.example/steal", status=307)
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert answer.status == 307 and answer.headers["Location"] == "https://evil.example/steal"
    assert len(fake_dashscope.requests) == 1


def test_latency_delays_every_answer(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)  # warm up: first-use imports happen here
    fake_dashscope.latency = 1.0
    workers = [threading.Thread(target=fetch, args=(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Both answers were held back at the same moment: the latency holds every answer.
    assert fake_dashscope.max_in_flight == 2


def test_delay_for_one_path(fake_dashscope):
    fake_dashscope.delay(0.5, path="/api/v1/models")
    with pytest.raises((socket.timeout, urllib.error.URLError)):
        fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY, timeout=0.2)


def test_echo_key_puts_the_presented_key_in_the_error_body(fake_dashscope):
    fake_dashscope.echo_key = True
    answer = fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)
    assert answer.status == 401 and CANARY_KEY in json.loads(answer.body)["message"]


def test_dropped_connection_gets_no_answer(fake_dashscope):
    fake_dashscope.drop()
    with pytest.raises((http.client.RemoteDisconnected, urllib.error.URLError)):
        fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY)


@pytest.mark.parametrize("status", [404, 405])
def test_without_free_probes_only_chat_answers(fake_dashscope, status):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.disable_free_probes(status)
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == status
    assert fetch(fake_dashscope.compatible_url + "/models", CANARY_KEY).status == status
    chat = fetch(fake_dashscope.compatible_url + "/chat/completions", CANARY_KEY, "POST", chat_payload())
    assert chat.status == 200


def test_rejected_region_answers_401_even_for_an_accepted_key(fake_dashscope):
    fake_dashscope.accept(CANARY_KEY)
    fake_dashscope.reject_region("cn")
    assert fetch(fake_dashscope.url + NATIVE_PROBE, CANARY_KEY).status == 401


# -- official hostnames through the CONNECT proxy, with the test CA -------------------------------------

def test_key_is_accepted_only_in_its_region_through_the_proxy(official_dashscope, connect_proxy, test_ca):
    official_dashscope.accept(CANARY_KEY, region="intl")
    assert fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca).status == 200
    assert fetch(CN + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca).status == 401
    assert connect_proxy.connects == ["dashscope-intl.aliyuncs.com:443", "dashscope.aliyuncs.com:443"]
    intl = official_dashscope.requests_for("dashscope-intl.aliyuncs.com")
    assert len(intl) == 1 and intl[0].via_proxy and intl[0].region == "intl"


def test_each_official_host_is_its_own_region(official_dashscope, connect_proxy, test_ca):
    for region, url in [("cn", CN), ("intl", INTL), ("us", "https://dashscope-us.aliyuncs.com"),
                        ("hk", "https://cn-hongkong.dashscope.aliyuncs.com")]:
        fetch(url + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca)
        assert official_dashscope.requests[-1].region == region


def test_token_plan_key_is_accepted_only_on_its_token_plan_host(official_dashscope, connect_proxy, test_ca):
    official_dashscope.accept(CANARY_TOKEN_PLAN_KEY, region="token_plan_intl")
    plan = "https://token-plan.{}.maas.aliyuncs.com/compatible-mode/v1/models"
    intl = fetch(plan.format("ap-southeast-1"), CANARY_TOKEN_PLAN_KEY, proxy=connect_proxy.url, cafile=test_ca)
    cn = fetch(plan.format("cn-beijing"), CANARY_TOKEN_PLAN_KEY, proxy=connect_proxy.url, cafile=test_ca)
    standard = fetch(INTL + NATIVE_PROBE, CANARY_TOKEN_PLAN_KEY, proxy=connect_proxy.url, cafile=test_ca)
    assert (intl.status, cn.status, standard.status) == (200, 401, 401)


def test_accept_refuses_to_mix_key_types_and_regions(fake_dashscope):
    with pytest.raises(ValueError):
        fake_dashscope.accept(CANARY_TOKEN_PLAN_KEY, region="cn")
    with pytest.raises(ValueError):
        fake_dashscope.accept(CANARY_KEY, region="token_plan_cn")


def test_official_env_reaches_the_fake_from_a_subprocess(official_dashscope, official_env):
    official_dashscope.accept(CANARY_KEY, region="intl")
    script = textwrap.dedent("""
        import sys, urllib.request
        request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
        print(urllib.request.urlopen(request, timeout=5).status)
    """)
    env = dict(official_env, PATH="/usr/bin:/bin")
    done = subprocess.run([sys.executable, "-c", script, INTL + NATIVE_PROBE, CANARY_KEY], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "200", done.stderr
    assert official_dashscope.requests[0].via_proxy


# -- the proxy's own behaviour -----------------------------------------------------------------------------

def test_proxy_asks_for_credentials_when_required(official_dashscope, connect_proxy, test_ca):
    connect_proxy.require_auth("user", "pass")
    with pytest.raises(urllib.error.URLError, match="407"):
        fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca)
    assert official_dashscope.requests == []


def test_proxy_lets_the_right_credentials_through(official_dashscope, connect_proxy, test_ca):
    connect_proxy.require_auth("user", "pass")
    answer = fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url_with_credentials("user", "pass"),
                   cafile=test_ca)
    assert answer.status == 401  # the fake answered: the tunnel was opened


@pytest.mark.parametrize("status", [403, 502])
def test_proxy_can_refuse_the_tunnel(official_dashscope, connect_proxy, test_ca, status):
    connect_proxy.refuse(status)
    with pytest.raises(urllib.error.URLError, match=str(status)):
        fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca)
    assert official_dashscope.requests == []


def test_proxy_can_drop_the_connection(connect_proxy, test_ca):
    connect_proxy.drop()
    with pytest.raises((urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError)):
        fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca)


def test_blackholed_proxy_never_answers(connect_proxy, test_ca):
    connect_proxy.blackhole()
    with pytest.raises((urllib.error.URLError, socket.timeout)):
        fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca, timeout=0.3)
    assert connect_proxy.connects == ["dashscope-intl.aliyuncs.com:443"]


def test_proxy_without_a_route_answers_502(connect_proxy, test_ca):
    connect_proxy.upstream = None
    with pytest.raises(urllib.error.URLError, match="502"):
        fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca)


def test_proxy_routes_a_hostname_to_another_server(connect_proxy, test_ca, blackhole):
    connect_proxy.route("dashscope-us.aliyuncs.com", blackhole)
    with pytest.raises((urllib.error.URLError, socket.timeout)):
        fetch("https://dashscope-us.aliyuncs.com" + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url,
              cafile=test_ca, timeout=0.3)
    assert blackhole.accepted == 1


def test_proxy_forwards_plain_http_to_the_plain_fake(fake_dashscope, connect_proxy):
    fake_dashscope.accept(CANARY_KEY)
    answer = fetch("http://gateway.internal" + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url)
    assert answer.status == 200
    record = fake_dashscope.requests[0]
    assert record.via_proxy and record.host == "gateway.internal" and record.path == NATIVE_PROBE


# -- TLS failures -------------------------------------------------------------------------------------------

def test_untrusted_certificate_fails_verification(untrusted_dashscope, test_ca):
    with pytest.raises(urllib.error.URLError) as failure:
        fetch(untrusted_dashscope.url + NATIVE_PROBE, CANARY_KEY, cafile=test_ca)
    assert isinstance(failure.value.reason, ssl.SSLCertVerificationError)
    assert untrusted_dashscope.requests == []


def test_untrusted_certificate_behind_the_proxy_fails_verification(untrusted_dashscope, connect_proxy, test_ca):
    connect_proxy.upstream = untrusted_dashscope
    with pytest.raises(urllib.error.URLError) as failure:
        fetch(INTL + NATIVE_PROBE, CANARY_KEY, proxy=connect_proxy.url, cafile=test_ca)
    assert isinstance(failure.value.reason, ssl.SSLCertVerificationError)


def test_certificate_for_the_wrong_hostname_fails_verification(wrong_host_dashscope, test_ca):
    with pytest.raises(urllib.error.URLError) as failure:
        fetch(wrong_host_dashscope.url + NATIVE_PROBE, CANARY_KEY, cafile=test_ca)
    assert isinstance(failure.value.reason, ssl.SSLCertVerificationError)
    assert "mismatch" in str(failure.value.reason) or "match" in str(failure.value.reason)


def test_test_ca_issues_wildcard_certificates(connect_proxy, test_ca):
    with FakeDashScope(tls_context=test_ca.server_context("*.oss-cn-beijing.aliyuncs.com")) as oss:
        connect_proxy.route("bucket.oss-cn-beijing.aliyuncs.com", oss)
        answer = fetch("https://bucket.oss-cn-beijing.aliyuncs.com/api/v1/models", CANARY_KEY_OTHER,
                       proxy=connect_proxy.url, cafile=test_ca)
    assert answer.status == 401


# -- hosts that never answer -------------------------------------------------------------------------------

def test_blackhole_accepts_and_never_answers(blackhole):
    with pytest.raises((urllib.error.URLError, socket.timeout)):
        fetch(blackhole.url + NATIVE_PROBE, CANARY_KEY, timeout=0.3)
    assert blackhole.accepted >= 1


def test_slow_drip_outlives_a_per_socket_timeout(slow_drip):
    with socket.create_connection(slow_drip.address, timeout=0.5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received, started = b"", time.monotonic()
        while time.monotonic() - started < 0.5:
            received += client.recv(1)  # each read returns within the 0.5 s socket timeout
    assert len(received) >= 2 and b"HTTP/1.1 200 OK".startswith(received)


def test_closed_port_refuses_connections(closed_port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port), timeout=1).close()


# -- standalone use (benchmarks) ----------------------------------------------------------------------------

def test_fake_dashscope_runs_without_pytest_with_latency():
    with FakeDashScope(latency=0.1) as server:
        server.accept(CANARY_KEY)
        answer = fetch(server.url + NATIVE_PROBE, CANARY_KEY)
    assert answer.status == 200
