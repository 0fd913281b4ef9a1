"""A small, bounded Server-Sent Events decoder (the ``text/event-stream`` format)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["SSEMessage", "SSEDecoder", "MAX_LINE_BYTES"]

#: A line (one event's ``data:``) longer than this is a protocol error, so that a broken
#: or hostile stream cannot make the client buffer without limit.
MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SSEMessage:
    """One dispatched event: its ``event:`` name (``message`` when absent), ``data`` (the
    ``data:`` lines joined by newlines) and ``id`` (the last ``id:`` seen, which also
    survives to later events as the stream's last event id)."""

    event: str
    data: str
    id: str | None
    retry_ms: int | None = None


class SSEProtocolError(ValueError):
    """The stream broke the format's bounds."""


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the complete events they finish.

    Holds at most one partial line plus the lines of one event under construction.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    @property
    def last_id(self) -> str | None:
        """The stream's last event id so far (what a reconnect sends as ``Last-Event-ID``)."""
        return self._last_id

    @property
    def retry_ms(self) -> int | None:
        """The server's latest ``retry:`` value, in milliseconds."""
        return self._retry

    def feed(self, chunk: bytes) -> deque[SSEMessage]:
        out: deque[SSEMessage] = deque()
        self._buffer.extend(chunk)
        start = 0
        while True:
            newline = self._find_newline(start)
            if newline is None:
                break
            end, after = newline
            line = bytes(self._buffer[start:end])
            start = after
            message = self._line(line.decode("utf-8", errors="replace"))
            if message is not None:
                out.append(message)
        del self._buffer[:start]
        if len(self._buffer) > MAX_LINE_BYTES:
            raise SSEProtocolError(f"an event-stream line is longer than {MAX_LINE_BYTES} bytes")
        return out

    def _find_newline(self, start: int) -> tuple[int, int] | None:
        buf = self._buffer
        lf = buf.find(b"\n", start)
        cr = buf.find(b"\r", start)
        if cr >= 0 and (lf < 0 or cr < lf):
            if cr + 1 == len(buf):
                return None  # a CR at the end may be the first half of CRLF
            return (cr, cr + 2 if buf[cr + 1] == 0x0A else cr + 1)
        if lf >= 0:
            return (lf, lf + 1)
        return None

    def _line(self, line: str) -> SSEMessage | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (heartbeat)
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_size += len(value) + 1
            if self._data_size > MAX_LINE_BYTES:
                raise SSEProtocolError(f"an event's data is longer than {MAX_LINE_BYTES} bytes")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)
        return None

    def _dispatch(self) -> SSEMessage | None:
        data, event = self._data, self._event
        self._data, self._data_size, self._event = [], 0, ""
        if not data:
            return None  # as the format says: an event without data is not dispatched
        return SSEMessage(
            event=event or "message",
            data="\n".join(data),
            id=self._last_id,
            retry_ms=self._retry,
        )
