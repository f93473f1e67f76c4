"""Loopback servers the tests start: fake DashScope (HTTP and TLS), CONNECT proxy, fake OSS, test CA."""
