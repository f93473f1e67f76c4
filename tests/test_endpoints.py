"""Base URLs: which forms we accept, which we refuse, and the probe URLs they give."""

import pytest

from qianwen_auth.endpoints import (EndpointError, choose_endpoint, official_endpoint, parse_base_url)


@pytest.mark.parametrize("url", [
    "https://dashscope-intl.aliyuncs.com",
    "https://dashscope-intl.aliyuncs.com/",
    "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/",
    "https://dashscope-intl.aliyuncs.com/api/v1",
    "https://DASHSCOPE-INTL.aliyuncs.com/api/v1/",
])
def test_every_form_of_an_official_base_is_recognised_as_its_region(url):
    endpoint = parse_base_url(url)
    assert endpoint.region == "intl"
    assert endpoint.native_models_url() == \
        "https://dashscope-intl.aliyuncs.com/api/v1/models?page_no=1&page_size=1"


def test_gateway_prefix_is_kept_in_front_of_the_api_paths():
    endpoint = parse_base_url("https://gw.example.com/llm/qwen/compatible-mode/v1/")
    assert endpoint.region == "custom"
    assert endpoint.prefix == "/llm/qwen"
    assert endpoint.chat_url() == "https://gw.example.com/llm/qwen/compatible-mode/v1/chat/completions"


def test_custom_compatible_base_is_probed_with_its_models_list():
    endpoint = parse_base_url("https://gw.example.com/compatible-mode/v1")
    assert endpoint.free_probe_url() == "https://gw.example.com/compatible-mode/v1/models"


def test_custom_native_base_is_probed_with_the_native_model_list():
    endpoint = parse_base_url("https://gw.example.com/x/api/v1")
    assert endpoint.free_probe_url() == "https://gw.example.com/x/api/v1/models?page_no=1&page_size=1"


def test_official_host_on_another_port_is_custom():
    assert parse_base_url("https://dashscope.aliyuncs.com:8443").region == "custom"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1/api/v1", "http://[::1]:9/"])
def test_plain_http_is_allowed_on_loopback(url):
    assert parse_base_url(url).origin.startswith("http://")


@pytest.mark.parametrize("url,words", [
    ("http://dashscope.aliyuncs.com", "clear text"),
    ("ftp://dashscope.aliyuncs.com", "not http or https"),
    ("https://user:pass@dashscope.aliyuncs.com", "user name or password"),
    ("dashscope.aliyuncs.com/compatible-mode/v1", "no scheme"),
    ("https://", "no host"),
    ("https://exa mple.com", "spaces"),
    ("https://example.com:99999", "cannot be parsed"),
    ("https://example.com/?key=1", "query string"),
    ("", "empty"),
])
def test_unsafe_or_broken_base_urls_are_refused_with_the_reason(url, words):
    with pytest.raises(EndpointError) as refused:
        parse_base_url(url)
    assert words in str(refused.value)


def test_refusal_message_never_contains_the_password():
    with pytest.raises(EndpointError) as refused:
        parse_base_url("https://user:hunter2secret@example.com")
    assert "hunter2" not in str(refused.value)


def test_command_line_beats_environment_beats_region():
    assert choose_endpoint("https://a.example.com", "https://b.example.com", "intl")[0].host == "a.example.com"
    assert choose_endpoint(None, "https://b.example.com", "intl")[0].host == "b.example.com"
    assert choose_endpoint(None, None, "us")[0].host == "dashscope-us.aliyuncs.com"
    assert choose_endpoint(None, "  ", None)[0] == official_endpoint("cn")


def test_suggested_base_url_is_the_compatible_mode_base():
    assert official_endpoint("hk").base_url == "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1"
