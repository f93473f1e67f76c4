"""Hosts that never give a client its answer, for timeout tests.

BlackHole accepts connections and never sends a byte. SlowDrip reads the request and then trickles
one byte of a never-ending status line every `interval` seconds, so a per-socket read timeout never
fires and only a deadline on the whole request ends the wait. closed_port() is a port nobody
listens on (connection refused).
"""

import select
import socket
import threading

from .server import Startable


class _Listener(Startable):
    """Accepts on 127.0.0.1:0 in a thread and gives each connection to self._serve (in its own thread)."""

    def __init__(self):
        self._stopping = threading.Event()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._connections = []
        self._lock = threading.Lock()
        self._thread = None
        self.accepted = 0

    @property
    def address(self):
        return self._socket.getsockname()[:2]

    @property
    def port(self):
        return self.address[1]

    @property
    def url(self):
        return "http://127.0.0.1:{}".format(self.port)

    @property
    def https_url(self):
        return "https://127.0.0.1:{}".format(self.port)

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, name="blackhole", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._socket.close()
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections = []

    def _accept_loop(self):
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._socket], [], [], 0.05)
            if not readable:
                continue
            connection, _ = self._socket.accept()
            with self._lock:
                self._connections.append(connection)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        pass


class BlackHole(_Listener):
    """Accepts and never answers (not even a TLS handshake)."""


class SlowDrip(_Listener):
    """Reads the request, then sends one byte of an endless header every interval seconds."""

    def __init__(self, interval=0.2):
        super().__init__()
        self.interval = interval

    def _serve(self, connection):
        try:
            connection.recv(65536)
            drip = b"HTTP/1.1 200 OK\r\nX-Drip: " + b"." * 1000000
            for byte in drip:
                if self._stopping.wait(self.interval):
                    return
                connection.sendall(bytes([byte]))
        except OSError:
            pass


def closed_port():
    """A loopback port with no listener: connecting to it is refused."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class RawReply(_Listener):
    """Reads the request, sends `reply` (any bytes, valid HTTP or not) and closes: for servers that
    answer in broken HTTP, which urllib reports with http.client exceptions."""

    def __init__(self, reply=b"GARBAGE\r\n\r\n"):
        super().__init__()
        self.reply = reply

    def _serve(self, connection):
        try:
            connection.recv(65536)
            connection.sendall(self.reply)
        except OSError:
            pass
        finally:
            connection.close()
