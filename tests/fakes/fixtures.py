"""pytest fixtures that start the fake servers; conftest.py imports them for every test file.

Servers start once per session (the first test that asks for them) and are reset before each test,
so every test sees fresh state: no keys accepted, no scenarios, no recorded requests. All bind
127.0.0.1 only; the proxy routes tunnels to these fakes and never to the internet.
"""

import pytest

from .blackhole import BlackHole, RawReply, SlowDrip, closed_port as _closed_port
from .ca import CertAuthority
from .dashscope import OFFICIAL_BASE_URLS, FakeDashScope
from .proxy import ConnectProxy

# conftest star-imports this module; the session servers must be listed too, or pytest cannot find them.
__all__ = [
    "_dashscope_plain", "_dashscope_tls", "_dashscope_untrusted", "_dashscope_wrong_host", "_connect_proxy",
    "test_ca", "untrusted_ca", "fake_dashscope", "fake_dashscope_tls", "official_dashscope",
    "untrusted_dashscope", "wrong_host_dashscope", "connect_proxy", "official_env",
    "blackhole", "slow_drip", "closed_port", "raw_reply", "proxy_environment", "OFFICIAL_BASE_URLS",
]


def proxy_environment(proxy_url, ca_pem):
    """The variables a script needs to reach the official hostnames through the proxy."""
    return {"HTTPS_PROXY": proxy_url, "https_proxy": proxy_url, "SSL_CERT_FILE": str(ca_pem),
            "NO_PROXY": "", "no_proxy": ""}


def _serve(server):
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- certificate authorities (session) ------------------------------------------------------------

@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    """The CA clients trust: str(test_ca) / test_ca.pem_path is the PEM for SSL_CERT_FILE."""
    return CertAuthority(tmp_path_factory.mktemp("test-ca"), name="test-ca")


@pytest.fixture(scope="session")
def untrusted_ca(tmp_path_factory):
    """A CA no client is told about: its certificates fail verification."""
    return CertAuthority(tmp_path_factory.mktemp("untrusted-ca"), name="untrusted-ca")


# -- servers started once per session -------------------------------------------------------------

@pytest.fixture(scope="session")
def _dashscope_plain():
    yield from _serve(FakeDashScope())


@pytest.fixture(scope="session")
def _dashscope_tls(test_ca):
    yield from _serve(FakeDashScope(tls_context=test_ca.server_context()))


@pytest.fixture(scope="session")
def _dashscope_untrusted(untrusted_ca):
    yield from _serve(FakeDashScope(tls_context=untrusted_ca.server_context()))


@pytest.fixture(scope="session")
def _dashscope_wrong_host(test_ca):
    yield from _serve(FakeDashScope(tls_context=test_ca.server_context("wrong-host.example.com")))


@pytest.fixture(scope="session")
def _connect_proxy(_dashscope_tls, _dashscope_plain):
    yield from _serve(ConnectProxy(upstream=_dashscope_tls, http_upstream=_dashscope_plain))


# -- per test, with fresh state ---------------------------------------------------------------------

@pytest.fixture
def fake_dashscope(_dashscope_plain):
    """Fake DashScope over plain HTTP at fake_dashscope.url (http://127.0.0.1:PORT)."""
    _dashscope_plain.reset()
    return _dashscope_plain


@pytest.fixture
def fake_dashscope_tls(_dashscope_tls):
    """Fake DashScope over TLS at https://127.0.0.1:PORT, certificate from test_ca."""
    _dashscope_tls.reset()
    return _dashscope_tls


@pytest.fixture
def connect_proxy(_connect_proxy):
    """The CONNECT proxy; tunnels go to fake_dashscope_tls, plain HTTP to fake_dashscope."""
    _connect_proxy.reset()
    return _connect_proxy


@pytest.fixture
def official_dashscope(fake_dashscope_tls, connect_proxy):
    """The TLS fake as every official host (https://dashscope-intl.aliyuncs.com ...) through
    connect_proxy; use official_env for the variables a script needs."""
    return fake_dashscope_tls


@pytest.fixture
def official_env(official_dashscope, connect_proxy, test_ca):
    """HTTPS_PROXY/https_proxy -> connect_proxy, SSL_CERT_FILE -> test CA, NO_PROXY empty."""
    return proxy_environment(connect_proxy.url, test_ca)


@pytest.fixture
def untrusted_dashscope(_dashscope_untrusted):
    """A TLS fake whose certificate (for every official name) comes from untrusted_ca.
    Put it behind the proxy with connect_proxy.upstream = untrusted_dashscope."""
    _dashscope_untrusted.reset()
    return _dashscope_untrusted


@pytest.fixture
def wrong_host_dashscope(_dashscope_wrong_host):
    """A TLS fake with a certificate from test_ca that names only wrong-host.example.com."""
    _dashscope_wrong_host.reset()
    return _dashscope_wrong_host


# -- hosts that never answer --------------------------------------------------------------------------

@pytest.fixture
def blackhole():
    """Accepts connections, never answers: blackhole.url / blackhole.https_url / blackhole.address."""
    yield from _serve(BlackHole())


@pytest.fixture
def slow_drip():
    """Answers one byte every 0.2 s forever (plain HTTP): slow_drip.url."""
    yield from _serve(SlowDrip())


@pytest.fixture
def closed_port():
    """A loopback port nobody listens on (connection refused)."""
    return _closed_port()


@pytest.fixture
def raw_reply():
    """A server that answers every connection with raw_reply.reply (set it before the request)."""
    yield from _serve(RawReply())
