"""A real PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` into a temporary folder, on a free port.

The server belongs to the test session (one per xdist worker); each test that asks for ``pg_url``
gets a database of its own, created empty. Run as root (CI), the server runs as the ``postgres``
user, which PostgreSQL requires. No server binaries is a failure, never a skip: ``.ci/run`` installs
them (Debian's ``postgresql`` package).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

BIN_FOLDERS = [Path(f"/usr/lib/postgresql/{version}/bin") for version in (17, 16, 15, 14)]
_numbers = itertools.count(1)


def pg_binary(name: str) -> str:
    """The path of a server program (``initdb``, ``pg_ctl``): Debian's folder first, then PATH."""
    for folder in BIN_FOLDERS:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the PostgreSQL server (apt-get install -y postgresql)")
    return found


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    folder: Path
    port: int
    user: str = "postgres"

    def url(self, dbname: str = "postgres", password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{self.user}{secret}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        name = f"t{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(_as_server_user([pg_binary("pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"]),
                       check=False, capture_output=True)


def start_server() -> PostgresServer:
    folder = Path(tempfile.mkdtemp(prefix="zoomforce-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data = folder / "data"
    subprocess.run(_as_server_user([pg_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                    "-E", "UTF8", "--no-sync", "--no-instructions"]),
                   check=True, capture_output=True)
    port = free_port()
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    subprocess.run(_as_server_user([pg_binary("pg_ctl"), "-D", str(data), "-o", options, "-l",
                                    str(folder / "server.log"), "-w", "-t", "60", "start"]),
                   check=True, capture_output=True)
    return PostgresServer(folder, port)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return postgres_server.create_database()
