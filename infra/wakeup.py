"""Wake-ups between the processes of one machine: UNIX datagram sockets in a shared folder.

The embedded mode keeps its jobs and its queue in SQLite files, which cannot tell a reader
that a row changed. A process that wants to be told binds one datagram socket in a folder
named after what it waits on; a process that changed the row sends a few bytes to every
socket there. A datagram is a hint, never data: the receiver re-reads the row, so a lost
or a spurious wake-up costs one read, and a missed one only the receiver's fallback poll.

The folder lives under the temporary directory, named by a hash of the SQLite path, because
a socket path may not exceed 107 bytes and pytest's temporary folders often do.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import select
import socket
import tempfile
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".sock"
MAX_MESSAGE_BYTES = 512


def wakeup_folder(database_path: str, role: str) -> Path:
    """The folder whose sockets wait on ``role`` events of the SQLite file ``database_path``
    (resolved, so processes started from different folders meet in the same one)."""
    resolved = str(Path(database_path).resolve()) if database_path else ""
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"facefleet-{digest}" / role


class WakeupSocket:
    """One bound, receiving socket. Created by the process that reads it; removed on close
    (and, if the process dies, by the next sender that finds nobody listening)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = folder / f"{os.getpid()}.{uuid.uuid4().hex[:8]}{SUFFIX}"
        self._owner = os.getpid()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        self._socket.setblocking(False)

    def fileno(self) -> int:
        return self._socket.fileno()

    def wait(self, timeout: float) -> list[str]:
        """Messages received within ``timeout`` seconds (all that are queued once one is)."""
        readable, _, _ = select.select([self._socket], [], [], max(0.0, timeout))
        return self.drain() if readable else []

    def drain(self) -> list[str]:
        messages: list[str] = []
        while True:
            try:
                messages.append(self._socket.recv(MAX_MESSAGE_BYTES).decode(errors="replace"))
            except (BlockingIOError, InterruptedError):
                return messages

    def close(self) -> None:
        self._socket.close()
        if os.getpid() == self._owner:  # a forked child must not remove its parent's socket
            self.path.unlink(missing_ok=True)


_sender: socket.socket | None = None
_sender_pid: int | None = None


def _sending_socket() -> socket.socket:
    global _sender, _sender_pid
    if _sender is None or _sender_pid != os.getpid():
        _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _sender.setblocking(False)
        _sender_pid = os.getpid()
    return _sender


def ring(folder: Path, message: str) -> int:
    """Send ``message`` to every socket in ``folder``; returns how many took it. Never raises:
    a wake-up is an optimisation, and whoever waits polls as well."""
    try:
        paths = [entry.path for entry in os.scandir(folder) if entry.name.endswith(SUFFIX)]
    except OSError:
        return 0
    data = message.encode()[:MAX_MESSAGE_BYTES]
    delivered = 0
    sender = _sending_socket()
    for path in paths:
        try:
            sender.sendto(data, path)
            delivered += 1
        except ConnectionRefusedError:
            # Nobody reads it any more: its process died without closing it.
            Path(path).unlink(missing_ok=True)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ENOENT, errno.ENOBUFS):
                log.debug("wake-up to %s failed: %s", path, error)
    return delivered
