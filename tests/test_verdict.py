"""From one HTTP answer to what it means (accepted, rejected, denied, missing, api_error)."""

import json

import pytest

from qianwen_auth.probe import Exchange
from qianwen_auth.verdict import (ACCEPTED, API_ERROR, DENIED, MISSING, REJECTED, UNREACHABLE,
                                  api_error_hint, classify)


def answer(status, body=b"", headers=None):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    return Exchange("GET", "https://x/api/v1/models", status=status, headers=headers or {}, body=body)


def test_model_list_with_json_is_accepted():
    assert classify(answer(200, {"request_id": "r1", "output": {"models": []}})).kind == ACCEPTED


def test_native_invalid_api_key_body_is_rejected_with_its_code_and_request_id():
    outcome = classify(answer(401, {"code": "InvalidApiKey", "message": "Invalid API-key provided.",
                                    "request_id": "abc-1"}))
    assert (outcome.kind, outcome.error_code, outcome.request_id) == (REJECTED, "InvalidApiKey", "abc-1")


def test_compatible_mode_error_body_is_rejected():
    body = {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                      "code": "invalid_api_key"}, "request_id": "r2"}
    assert classify(answer(401, body)).error_code == "invalid_api_key"


def test_request_id_header_wins_over_body():
    outcome = classify(answer(401, {"code": "InvalidApiKey"}, {"x-request-id": "hdr"}))
    assert outcome.request_id == "hdr"


@pytest.mark.parametrize("code", ["AccessDenied", "Model.AccessDenied", "Workspace.AccessDenied",
                                  "AccessDenied.Unpurchased"])
def test_403_access_denied_codes_are_denied(code):
    assert classify(answer(403, {"code": code, "message": "no"})).kind == DENIED


@pytest.mark.parametrize("status", [404, 405])
def test_missing_probe_endpoint_is_missing(status):
    assert classify(answer(status, b"not found")).kind == MISSING


def test_429_keeps_retry_after():
    outcome = classify(answer(429, {"code": "Throttling"}, {"retry-after": "7"}))
    assert (outcome.kind, outcome.reason, outcome.retry_after) == (API_ERROR, "rate_limited", "7")
    assert "7 seconds" in api_error_hint(outcome)


def test_arrearage_is_an_api_error_with_a_billing_hint():
    outcome = classify(answer(400, {"code": "Arrearage", "message": "Access denied, account overdue"}))
    assert outcome.reason == "arrearage"
    assert "billing" in api_error_hint(outcome)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_api_errors(status):
    assert classify(answer(status, b"oops")).reason == "server_error"


def test_redirect_reports_where_it_pointed_without_query():
    outcome = classify(answer(302, b"", {"location": "https://evil.example/steal?token=abc"}))
    assert outcome.reason == "redirect"
    assert outcome.location == "https://evil.example/steal"


def test_non_json_200_is_an_api_error():
    assert classify(answer(200, b"<html>login</html>")).reason == "not_json"


def test_200_with_business_error_is_an_api_error():
    assert classify(answer(200, {"code": "DataInspectionFailed", "message": "x"})).reason == "business_error"


def test_chat_probe_needs_choices_content():
    assert classify(answer(200, {"id": "x"}), chat=True).reason == "unexpected_body"
    body = {"choices": [{"message": {"role": "assistant", "content": "h"}}]}
    assert classify(answer(200, body), chat=True).kind == ACCEPTED


def test_network_failure_is_unreachable_with_its_kind():
    exchange = Exchange("GET", "https://x", error="tls", detail="certificate verify failed")
    outcome = classify(exchange)
    assert (outcome.kind, outcome.reason) == (UNREACHABLE, "tls")


def test_server_message_passes_through_redaction():
    outcome = classify(answer(401, {"code": "InvalidApiKey", "message": "bad key sk-abcdef123456"}),
                       redact_text=lambda text: text.replace("abcdef123456", "***"))
    assert "abcdef123456" not in outcome.message
