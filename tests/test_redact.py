"""Specification of redaction with hostile inputs: nothing beyond a key's type prefix may survive."""

import http.client
import json
import urllib.parse

import pytest

from conftest import CANARY_KEY, CANARY_OSS_ID, CANARY_OSS_SECRET, CANARY_TOKEN_PLAN_KEY, find_leaks
from qianwen_auth.redact import MASK, redact, redact_url, secret_part

KEY = CANARY_KEY
UNKNOWN_KEY = "sk-7f3e9a1b5c2d8e4f6a0b3c9d1e5f7a2b"   # not passed as a known secret
ALL = (CANARY_KEY, CANARY_TOKEN_PLAN_KEY, CANARY_OSS_ID, CANARY_OSS_SECRET)


def clean(text, secrets=ALL):
    return not find_leaks(text, secrets + (UNKNOWN_KEY,))


# --- known secrets ------------------------------------------------------------------------------------

def test_whole_key_keeps_only_its_type_prefix():
    assert redact("key=" + KEY + ".", [KEY]) == "key=sk-" + MASK + "."


def test_token_plan_key_keeps_only_its_type_prefix():
    assert redact("got " + CANARY_TOKEN_PLAN_KEY, [CANARY_TOKEN_PLAN_KEY]) == "got sk-sp-" + MASK


@pytest.mark.parametrize("start, size", [(3, 6), (10, 6), (len(KEY) - 6, 6), (5, 20), (3, 12)])
def test_any_piece_of_six_or_more_characters_is_masked(start, size):
    piece = KEY[start:start + size]
    result = redact("the server said: " + piece + " is wrong", [KEY])
    assert piece not in result and clean(result)
    assert result.startswith("the server said: ") and result.endswith(" is wrong")


def test_pieces_glued_to_other_text_are_masked():
    result = redact("xx" + KEY[5:15] + "yy" + KEY[20:] + "zz", [KEY])
    assert clean(result)


def test_key_inside_json_is_masked():
    body = json.dumps({"error": {"message": "Incorrect API key provided: " + KEY, "code": "invalid_api_key"}})
    result = redact(body, [KEY])
    assert clean(result) and "invalid_api_key" in result


def test_key_shortened_by_the_server_loses_every_piece_of_six_or_more():
    body = '{"message":"Invalid API-key provided: sk-' + KEY[3:12] + '****' + KEY[-6:] + '"}'
    result = redact(body, [KEY])
    assert KEY[3:12] not in result and KEY[-6:] not in result


def test_raw_value_with_surrounding_whitespace_is_masked_in_every_form():
    assert clean(redact("value " + KEY, ["  " + KEY + "\n"]))


def test_percent_encoded_secret_is_masked():
    secret = "Abc+def/ghi=jkl+mno/pqr"
    result = redact("?token=" + urllib.parse.quote(secret, safe="") + "&x=1", [secret])
    assert "def%2Fghi" not in result and "jkl%2Bmno" not in result


def test_secret_with_a_newline_is_masked_in_a_header_value_error():
    broken = "sk-c4nary7e1b5\nd9f3a8c2e6b0d4f7a1c9e"
    connection = http.client.HTTPConnection("127.0.0.1")
    connection.putrequest("GET", "/")
    with pytest.raises(ValueError) as caught:
        connection.putheader("Authorization", "Bearer " + broken)
    result = redact(str(caught.value), [broken])
    assert "c4nary" not in result and "d9f3a8" not in result and "1c9e" not in result


def test_secret_with_a_fullwidth_space_is_masked_in_the_repr_of_an_encode_error():
    broken = "sk-c4nary7e1b5d9f3\u3000a8c2e6b0d4f7a1c9e"
    connection = http.client.HTTPConnection("127.0.0.1")
    connection.putrequest("GET", "/")
    with pytest.raises(UnicodeEncodeError) as caught:
        connection.putheader("Authorization", "Bearer " + broken)
    result = redact(repr(caught.value), [broken])
    assert clean(result, (broken,)) and "a8c2e6" not in result


def test_oss_access_key_secret_is_masked_entirely():
    result = redact("secret " + CANARY_OSS_SECRET + " and part " + CANARY_OSS_SECRET[4:12], ALL)
    assert clean(result)


def test_empty_and_none_secrets_are_ignored():
    assert redact("plain text", [None, "", "sk-"]) == "plain text"


def test_many_occurrences_are_all_masked():
    text = (KEY + " ") * 1000
    assert clean(redact(text, [KEY]))


# --- key-shaped strings nobody told us about ------------------------------------------------------------

def test_unknown_standard_key_keeps_only_its_prefix():
    assert redact("other key " + UNKNOWN_KEY) == "other key sk-" + MASK


def test_unknown_token_plan_key_keeps_only_its_prefix():
    assert redact("sk-sp-abcdef0123456789") == "sk-sp-" + MASK


def test_key_glued_after_an_underscore_is_masked():
    assert redact("api_key_" + UNKNOWN_KEY) == "api_key_sk-" + MASK


def test_words_ending_in_sk_are_left_alone():
    assert redact("task-force disk-cache risk-free") == "task-force disk-cache risk-free"


@pytest.mark.parametrize("access_key_id", ["LTAI5tAbCdEfGhIjKlMnOp", CANARY_OSS_ID, "STS.NUgYrLnoC37mZZCNnAbez2"])
def test_access_key_ids_are_removed_entirely(access_key_id):
    result = redact("id=" + access_key_id + ";")
    assert result == "id=" + MASK + ";"


@pytest.mark.parametrize("header", [
    "Authorization: Bearer " + UNKNOWN_KEY,
    "authorization: bearer abc.def.ghi",
    "Authorization: Bearer\n  tokenvalue123",
    '{"Authorization": "Bearer tokenvalue123"}',
    "Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "Authorization: OSS4-HMAC-SHA256 Credential=LTAI5tAbCdEf/20240101/cn-hangzhou/oss/aliyun_v4_request",
    "authorization=tokenvalue123",
])
def test_authorization_values_are_masked(header):
    result = redact(header)
    for secret in ("tokenvalue123", "abc.def.ghi", "dXNlcjpwYXNzd29yZA", "LTAI5tAbCdEf", UNKNOWN_KEY[3:]):
        assert secret not in result
    assert MASK in result


def test_signed_oss_url_loses_its_credentials():
    url = ("https://bucket.oss-cn-hangzhou.aliyuncs.com/a.txt?x-oss-signature-version=OSS4-HMAC-SHA256"
           "&x-oss-credential=LTAI5tAbCdEfGh%2F20240101%2Fcn-hangzhou%2Foss%2Faliyun_v4_request"
           "&x-oss-date=20240101T000000Z&x-oss-expires=60&x-oss-signature=9f86d081884c7d65"
           "&x-oss-security-token=CAISabcdef123")
    result = redact(url)
    for secret in ("LTAI5tAbCdEfGh", "9f86d081884c7d65", "CAISabcdef123"):
        assert secret not in result
    assert "x-oss-expires=60" in result


def test_v1_signed_url_loses_its_credentials():
    result = redact("http://b.oss.aliyuncs.com/k?OSSAccessKeyId=LTAIabcd1234&Expires=1&Signature=xy%2Bz")
    assert "LTAIabcd1234" not in result and "xy%2Bz" not in result and "Expires=1" in result


def test_oss_error_body_loses_credential_elements():
    body = ("<Error><Code>SignatureDoesNotMatch</Code><OSSAccessKeyId>LTAI5tAbCdEfGh</OSSAccessKeyId>"
            "<SignatureProvided>abcSIGdef</SignatureProvided><StringToSign>PUT\n\n</StringToSign></Error>")
    result = redact(body)
    assert "LTAI5tAbCdEfGh" not in result and "abcSIGdef" not in result
    assert "<Code>SignatureDoesNotMatch</Code>" in result


@pytest.mark.parametrize("text, secret", [
    ('{"api_key": "hunter2hunter2"}', "hunter2hunter2"),
    ("password=hunter2hunter2&user=me", "hunter2hunter2"),
    ("AccessKeySecret: hunter2hunter2", "hunter2hunter2"),
    ("client_secret=hunter2hunter2", "hunter2hunter2"),
])
def test_credential_fields_are_masked(text, secret):
    assert secret not in redact(text)


def test_user_and_password_in_a_url_lose_the_password():
    result = redact("ProxyError('Cannot connect to proxy http://alice:s3cr3tpass@proxy.local:8080/')")
    assert "s3cr3tpass" not in result
    assert "http://alice:" + MASK + "@proxy.local:8080/" in result


@pytest.mark.parametrize("line", [
    "QIANWEN_API_KEY: not set",
    "DASHSCOPE_API_KEY is exported but empty and hides the key in .env line 3: unset it",
    "key source: env:DASHSCOPE_API_KEY",
    "set QWEN_BASE_URL=https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
])
def test_report_lines_that_name_variables_are_left_alone(line):
    assert redact(line) == line


def test_ordinary_text_is_left_alone():
    text = "HTTP 401 from https://dashscope.aliyuncs.com/api/v1/models (request id 7c1f-22; max_tokens=1)"
    assert redact(text) == text


# --- odd inputs ------------------------------------------------------------------------------------------

def test_none_stays_none():
    assert redact(None, [KEY]) is None


def test_empty_text_stays_empty():
    assert redact("", [KEY]) == ""


def test_exceptions_and_other_objects_are_turned_into_text():
    assert redact(ValueError("bad " + KEY), [KEY]) == "bad sk-" + MASK


def test_secret_part_drops_only_the_type_prefix():
    assert secret_part("sk-sp-abc") == "abc"
    assert secret_part("sk-abc") == "abc"
    assert secret_part("LTAIabc") == "LTAIabc"


@pytest.mark.parametrize("text", [
    "a" * 1000000, "sk-" * 300000, "Bearer " * 150000, " " * 1000000, "http://" * 150000,
    "authorization:" * 70000, "LTAI" * 250000, "api_key=" * 120000, "a:" * 500000, "<AccessKeyId>" * 80000,
    "http://a:" + "b" * 1000000, KEY * 30000,
])
def test_very_long_text_is_redacted(text):
    # make bench times the worst of these inputs; here they must simply come out masked.
    assert not any(secret in redact(text, ALL) for secret in ALL if len(secret) > 8)


# --- URLs fit to show -------------------------------------------------------------------------------------

def test_redact_url_drops_user_password_and_query():
    assert redact_url("https://u:p@host.example/a/b?Signature=x#frag") == "https://host.example/a/b"


def test_redact_url_keeps_a_plain_url():
    assert redact_url("https://dashscope.aliyuncs.com/api/v1") == "https://dashscope.aliyuncs.com/api/v1"


@pytest.mark.parametrize("value", [None, ""])
def test_redact_url_passes_empty_values_through(value):
    assert redact_url(value) == value


def test_redacting_data_keeps_json_valid_around_escaped_quotes():
    import json
    from qianwen_auth.redact import redact_data
    data = {"hint": 'remove a leading "Bearer " from .env', "list": ["Bearer sk-abcdef0123456789"]}
    text = json.dumps(redact_data(data, ["sk-abcdef0123456789"]))
    parsed = json.loads(text)
    assert parsed["list"] == ["Bearer ***"]
    assert "abcdef" not in text


def test_basic_credentials_are_masked():
    from qianwen_auth.redact import redact
    assert redact("407 Basic Ym9iOnNrLWF0dGFjazAx") == "407 Basic ***"


def test_lone_surrogates_become_escapes_that_any_stream_can_write():
    from qianwen_auth.redact import redact
    assert redact("bad \ud800 byte").encode("ascii")
