"""pytest fixtures for the fake OSS endpoint; conftest.py imports them for every test file."""

import pytest

from fakes.oss import FakeOss

__all__ = ["fake_oss", "oss_env", "fake_oss_official", "oss_official_env"]


def case_folded_leaks(text):
    """Canary pieces found in text in any letter case (a server may echo an AccessKey lowercased).
    "secret" is left out: the canary secret holds the word, and our own messages use it."""
    import conftest
    pieces = {piece for secret in conftest.CANARIES for piece in conftest.secret_pieces(secret.lower())
              if piece != "secret"}
    return sorted(piece for piece in pieces if piece in text.lower())


def _credentials():
    import conftest
    return {conftest.CANARY_OSS_ID: conftest.CANARY_OSS_SECRET}


@pytest.fixture
def fake_oss():
    """A healthy fake bucket on http://127.0.0.1:<port> that knows the canary AccessKey pair.
    Change fake_oss.scenario to play a failure."""
    server = FakeOss(credentials=_credentials()).start()
    yield server
    server.stop()


@pytest.fixture
def oss_env(fake_oss):
    """Environment variables that point the OSS check at fake_oss as a custom domain (loopback http)."""
    import conftest
    return {"QWEN_TMP_OSS_BUCKET": fake_oss.bucket, "QWEN_TMP_OSS_REGION": fake_oss.region,
            "QWEN_TMP_OSS_ENDPOINT": fake_oss.url, "QWEN_TMP_OSS_AK_ID": conftest.CANARY_OSS_ID,
            "QWEN_TMP_OSS_AK_SECRET": conftest.CANARY_OSS_SECRET}


@pytest.fixture
def fake_oss_official(test_ca, connect_proxy):
    """The fake bucket over TLS as https://<bucket>.oss-cn-beijing.aliyuncs.com, reached through
    connect_proxy with a certificate from test_ca (virtual-host addressing, as in production)."""
    server = FakeOss(credentials=_credentials(), ssl_context=test_ca.server_context(
        "*.oss-cn-beijing.aliyuncs.com", "oss-cn-beijing.aliyuncs.com")).start()
    connect_proxy.route(server.official_host, server)
    yield server
    server.stop()


@pytest.fixture
def oss_official_env(fake_oss_official, connect_proxy, test_ca):
    """No QWEN_TMP_OSS_ENDPOINT: the check builds the official host itself and goes through the proxy."""
    import conftest
    env = {"QWEN_TMP_OSS_BUCKET": fake_oss_official.bucket, "QWEN_TMP_OSS_REGION": fake_oss_official.region,
           "QWEN_TMP_OSS_AK_ID": conftest.CANARY_OSS_ID, "QWEN_TMP_OSS_AK_SECRET": conftest.CANARY_OSS_SECRET}
    env.update({"HTTPS_PROXY": connect_proxy.url, "https_proxy": connect_proxy.url,
                "SSL_CERT_FILE": str(test_ca), "NO_PROXY": "", "no_proxy": ""})
    return env
