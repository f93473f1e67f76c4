"""The OSS V4 signer: Alibaba's published SDK test vectors, and Alibaba's own signer as an oracle."""

import random
import string
from datetime import datetime, timedelta, timezone

import pytest

from qianwen_auth import oss_signer

# Inputs of the V4 header-signing vectors in Alibaba's OSS SDKs (alibabacloud-oss-python-sdk-v2
# tests/unit/signer/test_v4.py; the same values appear in the Android, iOS and Kotlin SDKs).
VECTOR_HEADERS = {"x-oss-head1": "value", "abc": "value", "ZAbc": "value", "XYZ": "value",
                  "content-type": "text/plain", "x-oss-content-sha256": "UNSIGNED-PAYLOAD"}
VECTOR_QUERY = {"param1": "value1", "+param1": "value3", "|param1": "value4", "+param2": "",
                "|param2": "", "param2": ""}
VECTOR_KEY = "1234+-/123/1.txt"


def sign_vector(unix_time, headers=None, additional=()):
    return oss_signer.sign("PUT", "bucket", VECTOR_KEY, dict(headers or VECTOR_HEADERS), "ak", "sk",
                           "cn-hangzhou", now=datetime.fromtimestamp(unix_time, timezone.utc),
                           query=VECTOR_QUERY, additional=additional)


def test_sdk_vector_header_signature():
    assert sign_vector(1702743657)["Authorization"] == (
        "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,"
        "Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe")


def test_sdk_vector_with_security_token_header():
    headers = dict(VECTOR_HEADERS, **{"x-oss-security-token": "token"})
    assert sign_vector(1702784856, headers)["Authorization"] == (
        "OSS4-HMAC-SHA256 Credential=ak/20231217/cn-hangzhou/oss/aliyun_v4_request,"
        "Signature=b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea")


def test_sdk_vector_with_additional_headers():
    assert sign_vector(1702747512, additional=("ZAbc", "abc"))["Authorization"] == (
        "OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,"
        "AdditionalHeaders=abc;zabc,"
        "Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f")


def test_additional_headers_skip_default_signed_and_absent_ones():
    signed = sign_vector(1702747512, additional=("x-oss-no-exist", "ZAbc", "x-oss-head1", "abc"))
    assert signed["Authorization"].endswith(
        "AdditionalHeaders=abc;zabc,"
        "Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f")


def test_sign_adds_date_and_unsigned_payload_headers():
    signed = oss_signer.sign("GET", "b-1", "k.txt", {}, "id", "secret", "cn-beijing",
                             now=datetime(2026, 10, 2, 8, 30, 15, tzinfo=timezone.utc))
    assert signed["x-oss-date"] == "20261002T083015Z"
    assert signed["x-oss-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert "/20261002/cn-beijing/oss/aliyun_v4_request," in signed["Authorization"]


def test_scope_region_is_the_region_id_not_the_endpoint_form():
    assert oss_signer.scope("20261002", "cn-beijing") == "20261002/cn-beijing/oss/aliyun_v4_request"


def test_content_type_is_part_of_the_signature():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    plain = oss_signer.sign("PUT", "b-1", "k", {"Content-Type": "text/plain"}, "id", "s", "cn-beijing", now=now)
    form = oss_signer.sign("PUT", "b-1", "k", {"Content-Type": "application/x-www-form-urlencoded"},
                           "id", "s", "cn-beijing", now=now)
    assert plain["Authorization"] != form["Authorization"]


def test_host_and_other_plain_headers_are_not_signed_by_default():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    one = oss_signer.sign("GET", "b-1", "k", {"Host": "a.example"}, "id", "s", "cn-beijing", now=now)
    two = oss_signer.sign("GET", "b-1", "k", {"Host": "b.example"}, "id", "s", "cn-beijing", now=now)
    assert one["Authorization"] == two["Authorization"]


def test_canonical_uri_always_holds_the_bucket_and_escapes_the_key():
    assert oss_signer.canonical_uri("bucket", "a b/+%.txt") == "/bucket/a%20b/%2B%25.txt"
    assert oss_signer.canonical_uri(None, None) == "/"


def test_parse_authorization_reads_back_what_sign_wrote():
    signed = sign_vector(1702747512, additional=("abc",))
    parsed = oss_signer.parse_authorization(signed["Authorization"])
    assert (parsed.access_key_id, parsed.date, parsed.region, parsed.product, parsed.terminator) == (
        "ak", "20231216", "cn-hangzhou", "oss", "aliyun_v4_request")
    assert parsed.additional == ["abc"]
    assert len(parsed.signature) == 64


@pytest.mark.parametrize("value", ["", "OSS ak:sig", "OSS4-HMAC-SHA256 Credential=ak/2023/r/oss,Signature=ab",
                                   "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,Signature=ab"])
def test_parse_authorization_refuses_other_schemes(value):
    assert oss_signer.parse_authorization(value) is None


def _random_text(rng, alphabet, low, high):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def test_signatures_agree_with_alibabas_sdk_signer_on_random_requests():
    sdk = pytest.importorskip("alibabacloud_oss_v2")
    from alibabacloud_oss_v2.credentials import StaticCredentialsProvider
    from alibabacloud_oss_v2.signer import SignerV4
    from alibabacloud_oss_v2.types import HttpRequest, SigningContext

    rng = random.Random(20261203)
    key_chars = string.ascii_letters + string.digits + "-_./+ =~!"
    for _ in range(200):
        method = rng.choice(["PUT", "GET", "DELETE", "HEAD", "POST"])
        bucket = _random_text(rng, string.ascii_lowercase + string.digits, 3, 20)
        key = _random_text(rng, key_chars, 1, 40)
        region = rng.choice(["cn-beijing", "cn-hangzhou", "ap-southeast-1", "us-west-1", "eu-central-1"])
        access_key_id = "LTAI" + _random_text(rng, string.ascii_letters + string.digits, 16, 20)
        secret = _random_text(rng, string.ascii_letters + string.digits, 30, 30)
        now = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 10 ** 8))
        headers = {"Content-Type": rng.choice(["text/plain", "text/plain; charset=utf-8", "image/png"])}
        for index in range(rng.randint(0, 3)):
            headers["x-oss-meta-m{}".format(index)] = _random_text(rng, string.ascii_letters, 1, 10)
        ours = oss_signer.sign(method, bucket, key, headers, access_key_id, secret, region, now=now)

        request = HttpRequest(method, "https://{}.oss-{}.aliyuncs.com/x".format(bucket, region))
        request.headers.update(headers)
        credentials = StaticCredentialsProvider(access_key_id, secret).get_credentials()
        context = SigningContext(product="oss", region=region, bucket=bucket, key=key, request=request,
                                 credentials=credentials, signing_time=now)
        SignerV4().sign(context)
        assert ours["Authorization"] == request.headers["Authorization"], (method, bucket, key)
        assert ours["x-oss-date"] == request.headers["x-oss-date"]
