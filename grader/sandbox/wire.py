"""Length-framed messages over a stream socket, with the size cap checked before reading (blocking
reads for the sandbox, a buffer the trusted side fills without blocking)."""

from __future__ import annotations

import socket

from grader.sandbox.protocol import HEADER, message_length


def send_message(sock: socket.socket, message: bytes) -> None:
    sock.sendall(message)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(min(n - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks += chunk
    return bytes(chunks)


def recv_message(sock: socket.socket) -> bytes:
    """One whole message (header included, as `decode` wants it); blocks, honours the socket timeout."""
    header = _recv_exact(sock, HEADER.size)
    return header + _recv_exact(sock, message_length(header))


def take_message(buffer: bytearray) -> bytes | None:
    """The first whole message in `buffer` (removed from it), or None while it is incomplete."""
    if len(buffer) < HEADER.size:
        return None
    end = HEADER.size + message_length(bytes(buffer[: HEADER.size]))
    if len(buffer) < end:
        return None
    with memoryview(buffer) as view:
        message = bytes(view[:end])  # one copy (a slice of the bytearray would be a second)
    del buffer[:end]
    return message
