"""Test helpers: transports that count or break requests, and a TCP proxy whose live
connections a test can cut."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx


class Recording(httpx.BaseTransport):
    """Passes every request to the real transport and records (method, path, headers)."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.requests: list[tuple[str, str, httpx.Headers]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append((request.method, request.url.path, request.headers))
        response = self.inner.handle_request(request)
        with self.lock:
            self.statuses.append(response.status_code)
        return response

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p == path)

    def close(self) -> None:
        self.inner.close()


class DropFirstResponse(httpx.BaseTransport):
    """Lets the server handle the first request matching ``(method, path)`` and answer it,
    then throws the answer away and raises a read error, as a connection lost after the
    server acted would."""

    def __init__(self, method: str, path: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.method = method
        self.path = path
        self.dropped = 0
        self.seen: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == self.method and request.url.path == self.path:
            self.seen.append(request)
            response.read()
            self.responses.append(response)
            if not self.dropped:
                self.dropped += 1
                response.close()
                raise httpx.ReadError("answer dropped by the test", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class InFlightFirst(httpx.BaseTransport):
    """Answers the first request matching ``(method, path)`` in the server's place with the
    server's own answer while a request with the same Idempotency-Key runs (409
    ``in_flight``, ``Retry-After: 1``; the API tests check the server answers so), and
    passes everything else on."""

    def __init__(self, method: str, path: str, code: str = "in_flight") -> None:
        self.inner = httpx.HTTPTransport()
        self.method = method
        self.path = path
        self.code = code
        self.answered = 0
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self.method and request.url.path == self.path:
            self.seen.append(request)
            if not self.answered:
                self.answered += 1
                return httpx.Response(
                    409,
                    headers={"retry-after": "1"} if self.code == "in_flight" else {},
                    json={"message": "Idempotency-Key: still being answered", "code": self.code},
                    request=request,
                )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class Proxy:
    """A TCP proxy from a free local port to ``target``; :meth:`cut` closes every
    connection it carries (both ways), as a network drop would."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.live: list[socket.socket] = []
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.accepted += 1
                self.live.extend([client, upstream])
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> int:
        """Closes every live connection; answers how many pairs were cut."""
        with self.lock:
            live, self.live = self.live, []
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        return len(live) // 2

    def close(self) -> None:
        self.stopping = True
        self.listener.close()
        self.cut()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    """Polls ``predicate`` (tests only) until true, else fails naming ``what``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Bounded:
    """Iterates over a blocking event stream for at most ``seconds``: past that the stream
    is closed from a timer thread and the iteration fails, so that an event that never
    comes fails the test quickly instead of hanging it."""

    def __init__(self, stream: Any, seconds: float, what: str) -> None:
        self.stream = stream
        self.seconds = seconds
        self.what = what
        self.expired = False
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def _expire(self) -> None:
        self.expired = True
        self.stream.close()

    def __iter__(self) -> Iterator[Any]:
        self.timer.start()
        try:
            for item in self.stream:
                if self.expired:
                    break
                yield item
        finally:
            self.timer.cancel()
        if self.expired:
            raise AssertionError(f"{self.what} did not come within {self.seconds} s")
