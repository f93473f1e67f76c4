"""Specification of the local key checks: nothing here may touch the network."""

import hashlib
import random
import string

import pytest

from qianwen_auth.keys import (
    PLACEHOLDER, STANDARD, TOKEN_PLAN, UNKNOWN, check_key, fingerprint, is_placeholder, key_type,
)

KEY = "sk-0123456789abcdef0123456789abcdef"
PLAN_KEY = "sk-sp-0123456789abcdef0123456789abcdef"
WORKSPACE_KEY = "sk-ws-0123456789abcdef0123456789abcdef"


# --- placeholders ------------------------------------------------------------------------------------

PLACEHOLDERS = [
    PLACEHOLDER, "sk-your-key-here", "SK-YOUR-KEY-HERE", "sk-xxx", "sk-xxxxxxxxxxxxxxxx", "sk-XXXXXXXX",
    "sk-xxxxxxxx1234", "sk-1234xxxx", "xxxx-xxxx-xxxx", "sk-...", "sk-***", "sk-********", "<your-key>",
    "<YOUR_API_KEY>", "{api_key}", "[key]", "${DASHSCOPE_API_KEY}", "$DASHSCOPE_API_KEY",
    "your-api-key", "YOUR_DASHSCOPE_API_KEY", "your_qianwen_api_key_here", "sk-placeholder",
    "changeme", "replace-me", "sk-test-key", "paste-your-key-here", "sk-abc", "sk-1234567", "abc",
    "sk-", "sk-sp-", "sk-sp-xxxx", "sk-0000000000000000", "\u4f60\u7684API-KEY", "sk-\u4f60\u7684\u5bc6\u94a5",
    "\u5728\u8fd9\u91cc\u586b\u5199\u4f60\u7684\u5bc6\u94a5", '"sk-your-key-here"', " sk-your-key-here\n",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholder_is_recognised(value):
    assert is_placeholder(value)
    result = check_key(value)
    assert result.placeholder and "placeholder" in result.problems
    assert not result.sendable


def test_our_own_placeholder_is_a_placeholder():
    assert is_placeholder("sk-your-key-here")


def test_placeholder_behind_a_bearer_prefix_is_a_placeholder():
    result = check_key("Bearer sk-your-key-here")
    assert result.placeholder and result.problems == ["bearer_prefix", "placeholder"]


def test_placeholder_has_no_fingerprint_or_type():
    result = check_key("sk-xxx")
    assert result.fingerprint is None and result.key_type is None and result.cleaned == ""


def _random_keys(count=3000):
    rng = random.Random(8675309)
    alphanumerics = string.ascii_letters + string.digits
    hex_lower = "0123456789abcdef"
    for _ in range(count):
        yield "sk-" + "".join(rng.choice(hex_lower) for _ in range(32))
        yield "sk-" + "".join(rng.choice(alphanumerics) for _ in range(32))
        yield "sk-ws-" + "".join(rng.choice(alphanumerics) for _ in range(32))
        yield "sk-sp-" + "".join(rng.choice(alphanumerics) for _ in range(32))
        yield "sk-" + "".join(rng.choice(alphanumerics) for _ in range(rng.randint(16, 64)))


def test_random_realistic_keys_are_never_placeholders():
    mistaken = [key for key in _random_keys() if is_placeholder(key)]
    assert mistaken == []


def test_random_realistic_keys_pass_every_local_check():
    for key in _random_keys(500):
        result = check_key(key)
        assert result.sendable and result.repairs == [], key
        assert set(result.problems) <= {"token_plan_key"}, key


@pytest.mark.parametrize("key", [
    "sk-xxxx0123456789abcdef0123456789ab",      # an x run by chance is not a placeholder
    "sk-0123456789abcdefXXXX456789abcdef",
    "sk-test0123456789abcdef0123456789a",       # nor a placeholder word glued to key characters
    "sk-your0123456789abcdef0123456789a",
    "sk-abcdefabcdefabcdefabcdefabcdefab",
])
def test_real_keys_that_contain_placeholder_hints_are_not_placeholders(key):
    assert not is_placeholder(key)


# --- empty -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, "", "   ", "\n", "\t\r\n"])
def test_empty_value_is_reported_as_empty(value):
    result = check_key(value)
    assert result.problems == ["empty"] and not result.sendable and not result.placeholder


# --- repairable paste mistakes ---------------------------------------------------------------------

@pytest.mark.parametrize("raw, repairs", [
    ("  " + KEY + "  ", ["surrounding_whitespace"]),
    ("\t" + KEY, ["surrounding_whitespace"]),
    (KEY + "\n", ["surrounding_newline"]),
    ("\r\n" + KEY + "\r\n", ["surrounding_newline"]),
    ("\u00a0" + KEY + "\u3000", ["surrounding_whitespace"]),
    ('"' + KEY + '"', ["surrounding_quotes"]),
    ("'" + KEY + "'", ["surrounding_quotes"]),
    ("`" + KEY + "`", ["surrounding_quotes"]),
    ("\u201c" + KEY + "\u201d", ["surrounding_quotes"]),
    ("\u2018" + KEY + "\u2019", ["surrounding_quotes"]),
    ("Bearer " + KEY, ["bearer_prefix"]),
    ("bearer   " + KEY, ["bearer_prefix"]),
    (' "Bearer ' + KEY + '"\n', ["surrounding_newline", "surrounding_quotes", "bearer_prefix"]),
    ("'\"" + KEY + "\"'", ["surrounding_quotes"]),
])
def test_paste_mistake_is_repaired_and_reported(raw, repairs):
    result = check_key(raw)
    assert result.cleaned == KEY
    assert result.repairs == repairs
    assert result.problems == repairs
    assert result.sendable and result.key_type == STANDARD


def test_surrounding_whitespace_is_not_called_newline_because_of_an_inner_one():
    result = check_key(" sk-0123456789abcdef\n0123456789abcdef ")
    assert result.repairs == ["surrounding_whitespace"]
    assert "inner_whitespace" in result.problems


def test_repaired_key_has_the_fingerprint_of_the_clean_key():
    assert check_key("Bearer " + KEY + "\n").fingerprint == fingerprint(KEY)


# --- not repairable ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, code", [
    ("sk-0123456789abcdef 0123456789abcdef", "inner_whitespace"),
    ("sk-0123456789abcdef\t0123456789abcdef", "inner_whitespace"),
    ("sk-0123456789abcdef\n0123456789abcdef", "inner_whitespace"),
    ("sk-0123456789abcdef\u00a00123456789abcdef", "inner_whitespace"),
    ("sk-0123456789abcdef\u30000123456789abcdef", "inner_whitespace"),
    ("sk-0123456789abcdef\x000123456789abcdef", "control_character"),
    ("sk-0123456789abcdef\x1b0123456789abcdef", "control_character"),
    ("sk-0123456789abcdef\x7f0123456789abcdef", "control_character"),
    (KEY + "\x00", "control_character"),
    ("sk-0123456789abcdef\u200b0123456789abcdef", "invisible_character"),
    (KEY + "\u200b", "invisible_character"),
    ("\ufeff" + KEY, "invisible_character"),
    ("sk-0123456789abcdef\u200d0123456789abcdef", "invisible_character"),
    ("\uff53\uff4b\uff0d0123456789abcdef0123456789abcdef", "fullwidth_character"),
    ("sk\uff0d0123456789abcdef0123456789abcdef", "fullwidth_character"),
    ("sk-0123456789abcdef\uff10123456789abcdef", "fullwidth_character"),
    (KEY + "\uff0c", "fullwidth_character"),
    (KEY + "\u3002", "fullwidth_character"),
    ("sk-0123456789abcdef\u54080123456789abcdef", "fullwidth_character"),
    ("sk-0123456789abcdef\u00e90123456789abcdef", "non_ascii_character"),
    ("sk-0123456789abcdef\u04300123456789abcdef", "non_ascii_character"),
    ("https://dashscope.aliyuncs.com/compatible-mode/v1", "looks_like_url"),
    ("http://127.0.0.1:8080/", "looks_like_url"),
    ("HTTPS://example.com", "looks_like_url"),
    ("dashscope.aliyuncs.com/api/v1", "looks_like_url"),
    ("dashscope-intl.aliyuncs.com", "looks_like_url"),
    ("gateway.example.internal:8443", "looks_like_url"),
])
def test_unrepairable_value_is_invalid_and_never_sent(raw, code):
    result = check_key(raw)
    assert code in result.problems
    assert result.invalid_reason
    assert not result.sendable
    assert not result.placeholder


def test_invalid_reason_names_the_character_not_the_key():
    result = check_key("sk-0123456789abcdef\u200b0123456789abcdef")
    assert "ZERO WIDTH SPACE" in result.invalid_reason
    assert "0123456789" not in result.invalid_reason


def test_fullwidth_reason_mentions_the_chinese_input_method():
    assert "input method" in check_key("sk\uff0d0123456789abcdef0123456789abcdef").invalid_reason


def test_invalid_key_still_has_a_fingerprint_to_tell_it_apart():
    assert check_key("sk-0123456789abcdef 0123456789abcdef").fingerprint.startswith("sha256:")


# --- key types -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, expected", [
    (KEY, STANDARD), (WORKSPACE_KEY, STANDARD), (PLAN_KEY, TOKEN_PLAN),
    ("0123456789abcdef0123456789abcdef", UNKNOWN), ("SK-0123456789abcdef0123456789abcdef", UNKNOWN),
    ("ak-0123456789abcdef0123456789abcdef", UNKNOWN),
])
def test_key_type_is_decided_by_prefix(key, expected):
    assert key_type(key) == expected


def test_standard_key_has_no_problems():
    result = check_key(KEY)
    assert (result.key_type, result.problems, result.sendable) == (STANDARD, [], True)


def test_workspace_key_is_a_standard_key():
    assert check_key(WORKSPACE_KEY).key_type == STANDARD
    assert check_key(WORKSPACE_KEY).problems == []


def test_token_plan_key_is_reported_but_still_sendable_on_request():
    result = check_key(PLAN_KEY)
    assert result.key_type == TOKEN_PLAN
    assert result.problems == ["token_plan_key"]
    assert result.sendable


def test_unknown_prefix_is_a_warning_and_probed_anyway():
    result = check_key("0123456789abcdef0123456789abcdef")
    assert result.key_type == UNKNOWN
    assert result.problems == ["unknown_prefix"]
    assert result.sendable


# --- fingerprint -----------------------------------------------------------------------------------------

def test_fingerprint_is_sha256_prefix_and_eight_hex_digits_of_the_cleaned_key():
    expected = "sha256:" + hashlib.sha256(KEY.encode("utf-8")).hexdigest()[:8]
    assert fingerprint(KEY) == expected
    assert check_key(KEY).fingerprint == expected


def test_fingerprint_format():
    value = fingerprint(KEY)
    assert value.startswith("sha256:") and len(value) == len("sha256:") + 8
    assert all(char in "0123456789abcdef" for char in value[len("sha256:"):])


def test_two_keys_have_different_fingerprints():
    assert fingerprint(KEY) != fingerprint(WORKSPACE_KEY)


def test_fingerprint_never_contains_a_piece_of_the_key():
    for key in _random_keys(200):
        assert not any(key[i:i + 6] in fingerprint(key) for i in range(3, len(key) - 5))


def test_fingerprint_accepts_any_text():
    assert fingerprint("sk-\ud800broken").startswith("sha256:")


def test_key_check_repr_never_shows_the_key():
    assert KEY[3:] not in repr(check_key(KEY))


@pytest.mark.parametrize("value", ["sk-your-key-here#todo", "sk-your-api-key#changeme"])
def test_placeholder_with_a_glued_comment_is_a_placeholder(value):
    assert is_placeholder(value)
