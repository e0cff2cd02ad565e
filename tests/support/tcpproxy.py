"""A small TCP proxy for fault tests: forwards to a target, and can cut, freeze, slow or refuse.

    proxy = TcpProxy(("127.0.0.1", 5432))   # listens on proxy.port
    proxy.latency = 2.0                     # every chunk waits 2 s before it is forwarded
    proxy.freeze()                          # stop forwarding (connections stay open, like a black hole)
    proxy.cut()                             # reset every open connection (RST), new ones still work
    proxy.refuse = True                     # accept and immediately reset new connections
    proxy.close()

Threads, not asyncio, so it runs beside anything the test does (including a blocking driver).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

_CHUNK = 65536


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a connection reset, as when a firewall or node dies."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Pair:
    """One client connection and its upstream connection."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = threading.Event()

    def close(self, reset: bool = True) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            if reset:
                _reset(sock)
            else:
                with contextlib.suppress(OSError):
                    sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; every fault applies to new and open connections alike."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.latency = 0.0
        self.refuse = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = int(self._listener.getsockname()[1])
        self.accepted = 0
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept_loop, name="tcpproxy-accept", daemon=True)
        self._thread.start()

    # --- faults -----------------------------------------------------------------------------

    def freeze(self) -> None:
        """Stop forwarding in both directions; bytes wait in the proxy until `thaw()`."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def cut(self) -> int:
        """Reset every open connection; returns how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close(reset=True)
        self.cuts += len(pairs)
        return len(pairs)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def close(self) -> None:
        self._stopping.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()
        self._thread.join(5)

    # --- forwarding -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.2)
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refuse:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)  # target down: the client sees the connection fail at once
                continue
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(pair, source, sink), name="tcpproxy-pump", daemon=True
                ).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not pair.closed.is_set():
                readable, _, _ = select.select([source], [], [], 0.2)
                if not readable:
                    continue
                data = source.recv(_CHUNK)
                if not data:
                    break
                if self.latency:
                    time.sleep(self.latency)
                while not self._flowing.wait(0.2):
                    if pair.closed.is_set():
                        return
                sink.sendall(data)
        except (OSError, ValueError):
            pass  # the other side went away, or the pair was cut
        finally:
            with self._lock:
                self._pairs.discard(pair)
            pair.close(reset=False)
