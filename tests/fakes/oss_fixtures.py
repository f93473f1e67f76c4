"""pytest fixtures for the fake OSS endpoint; conftest.py imports them for every test file."""

import pytest

from fakes.oss import FakeOss


@pytest.fixture
def fake_oss():
    """A healthy fake bucket on http://127.0.0.1:<port> that knows the canary AccessKey pair.
    Change fake_oss.scenario to play a failure."""
    import conftest
    server = FakeOss(credentials={conftest.CANARY_OSS_ID: conftest.CANARY_OSS_SECRET}).start()
    yield server
    server.stop()


@pytest.fixture
def oss_env(fake_oss):
    """Environment variables that point the OSS check at fake_oss as a custom domain (loopback http)."""
    import conftest
    return {"QWEN_TMP_OSS_BUCKET": fake_oss.bucket, "QWEN_TMP_OSS_REGION": fake_oss.region,
            "QWEN_TMP_OSS_ENDPOINT": fake_oss.url, "QWEN_TMP_OSS_AK_ID": conftest.CANARY_OSS_ID,
            "QWEN_TMP_OSS_AK_SECRET": conftest.CANARY_OSS_SECRET}
