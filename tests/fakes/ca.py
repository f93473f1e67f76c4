"""Test certificate authorities for the loopback TLS servers.

A CertAuthority writes its certificate to a PEM file that a client trusts through SSL_CERT_FILE, and
issues server certificates for any names. The default server certificate covers loopback and every
official DashScope and Token Plan host, so one TLS fake can stand in for all of them behind the
CONNECT proxy. A second authority, whose PEM no client is given, makes "untrusted certificate" servers.
"""

import os
import ssl
import tempfile
from pathlib import Path

import trustme

OFFICIAL_HOSTS = (
    "dashscope.aliyuncs.com",
    "dashscope-intl.aliyuncs.com",
    "dashscope-us.aliyuncs.com",
    "cn-hongkong.dashscope.aliyuncs.com",
    "token-plan.cn-beijing.maas.aliyuncs.com",
    "token-plan.ap-southeast-1.maas.aliyuncs.com",
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
DEFAULT_SERVER_NAMES = LOOPBACK_NAMES + OFFICIAL_HOSTS


class CertAuthority:
    """A throw-away CA. str(ca) and os.fspath(ca) give the PEM path, ready for SSL_CERT_FILE."""

    def __init__(self, folder=None, name="test-ca"):
        self._ca = trustme.CA(organization_name="qianwen-ops-auth " + name)
        self.folder = Path(folder or tempfile.mkdtemp(prefix="qianwen-fakes-"))
        self.pem_path = str(self.folder / (name + ".pem"))
        self._ca.cert_pem.write_to_path(self.pem_path)
        self._contexts = {}

    def __str__(self):
        return self.pem_path

    def __fspath__(self):
        return self.pem_path

    def issue_cert(self, *names):
        """A trustme LeafCert for names ("*.oss-cn-beijing.aliyuncs.com" style wildcards work)."""
        return self._ca.issue_cert(*(names or DEFAULT_SERVER_NAMES))

    def write_cert(self, *names):
        """Write a certificate chain and key for names to one PEM file; return its path (for servers
        that want files, such as a subprocess)."""
        leaf = self.issue_cert(*names)
        handle, path = tempfile.mkstemp(prefix="leaf-", suffix=".pem", dir=str(self.folder))
        os.close(handle)
        leaf.private_key_and_cert_chain_pem.write_to_path(path)
        return path

    def server_context(self, *names):
        """A server-side SSLContext whose certificate covers names (default: loopback and the
        official hosts). Cached per set of names, since issuing a key costs a few milliseconds."""
        names = tuple(names or DEFAULT_SERVER_NAMES)
        if names not in self._contexts:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.issue_cert(*names).configure_cert(context)
            self._contexts[names] = context
        return self._contexts[names]

    def client_context(self):
        """A verifying client context that trusts only this CA (what SSL_CERT_FILE gives a script)."""
        return ssl.create_default_context(cafile=self.pem_path)
