"""Where Unix sockets and TCP ports come from.

PostgreSQL and Redis listen on Unix sockets only, so they can never collide with a server on the
standard ports. A socket path must fit ``sun_path`` (108 bytes with the NUL); a deep data
directory does not, so its sockets then go to a short private directory under /tmp: mode 0700,
named after a hash of the data directory (stable across runs, so a crash never accumulates
directories), and removed on stop.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from api.engines.errors import EngineError

if TYPE_CHECKING:
    from api.engines._process import RunAs

#: ``sun_path`` holds 107 bytes plus the NUL; keep a margin for the servers' own checks.
MAX_SOCKET_PATH = 100

#: Characters that need no quoting in PostgreSQL's list syntax nor in a URL.
_PLAIN = re.compile(r"[\w./+-]+")

#: Ports Loupe's embedded engines must never take: the standard servers may be running.
STANDARD_PORTS = frozenset({5432, 4222, 6379})


def fits(path: Path) -> bool:
    """True when ``path`` can be bound as a Unix socket."""
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def plain(path: Path) -> bool:
    """True when ``path`` has no commas, quotes or spaces (PostgreSQL splits lists on them)."""
    return _PLAIN.fullmatch(str(path)) is not None


def private_dir(key: Path, owner: RunAs | None = None) -> Path:
    """A short 0700 directory for sockets, unique to ``key`` (the engine's data directory)."""
    base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())  # noqa: S108
    digest = hashlib.sha256(os.fsencode(key)).hexdigest()[:16]
    path = base / f"loupe-{digest}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        # Left by an earlier run that was killed; in a shared /tmp it could also be a trap
        # planted by another user, so only reuse a real directory that we own.
        st = path.lstat()
        allowed = {os.geteuid()} | ({owner.uid} if owner else set())
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in allowed or st.st_mode & 0o077:
            raise EngineError(
                f"refusing to put sockets in {path}: it is not a private directory of this "
                f"user (owner uid {st.st_uid}, mode {stat.filemode(st.st_mode)}); remove it"
            ) from None
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)
    path.chmod(0o700)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the caller retries if it is taken before use)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in STANDARD_PORTS:
            return port
