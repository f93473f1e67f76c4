"""Plumbing shared by the loopback fakes: a threaded HTTP server on 127.0.0.1, plain or TLS.

The TLS handshake runs in the connection's own thread, not in the accept loop, so one client that
connects and never speaks cannot stall the others. Broken connections are expected in these tests
(clients time out, distrust the certificate, drop the line), so they are not logged.
"""

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANDSHAKE_TIMEOUT = 5.0


class Startable:
    """`with Fake() as fake:` for every fake: start() on entry (returning the fake), stop() on exit."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not print a line per request to stderr."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler_class, tls_context=None):
        super().__init__(("127.0.0.1", 0), handler_class)
        self.tls_context = tls_context
        self._thread = None

    @property
    def port(self):
        return self.server_address[1]

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            secured = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client distrusts our certificate, or gave up: that is the test's point
        secured.settimeout(None)
        try:
            super().finish_request(secured, client_address)
        finally:
            _close_quietly(secured)

    def handle_error(self, request, client_address):
        pass

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-{}".format(self.port), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()


def _close_quietly(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
