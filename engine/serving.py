"""Run an ASGI app on uvicorn: in a background thread (tests, demo) or in the foreground (CLI).

The servers (``serve`` and the emulators) check their address with :func:`check_listen` first, so
that a port in use is one line and exit 2, not a failure inside the server thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from engine.errors import ConfigError


@dataclass
class TLSFiles:
    certfile: str
    keyfile: str
    ca_file: str


@dataclass
class RunningServer:
    """A uvicorn server running in a daemon thread; ``url`` is its root URL."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # do not wait for idle keep-alive connections (clients may hold some)
        self.thread.join(timeout)


def _config(app: ASGIApp, host: str, port: int, tls: TLSFiles | None,
            forwarded_allow_ips: str | None = None) -> uvicorn.Config:
    # Behind a TLS-terminating proxy: X-Forwarded-Proto/-For are believed from these addresses only
    # (None: uvicorn's default, $FORWARDED_ALLOW_IPS or 127.0.0.1).
    return uvicorn.Config(
        app,
        forwarded_allow_ips=forwarded_allow_ips,
        proxy_headers=True,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn's records go to the handler zoomforce configured (text or JSON lines)
        access_log=False,
        lifespan="off",
        ssl_certfile=tls.certfile if tls else None,
        ssl_keyfile=tls.keyfile if tls else None,
        timeout_keep_alive=30,
    )


def _bound_port(server: uvicorn.Server) -> int:
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server has no listening socket")


def start_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, tls: TLSFiles | None = None, timeout: float = 15.0,
    forwarded_allow_ips: str | None = None,
) -> RunningServer:
    """Start `app` in a daemon thread and wait until it listens; port 0 picks a free port."""
    server = uvicorn.Server(_config(app, host, port, tls, forwarded_allow_ips))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.01)
    scheme = "https" if tls else "http"
    return RunningServer(server, thread, f"{scheme}://{host}:{_bound_port(server)}")


def serve_foreground(
    app: ASGIApp,
    host: str,
    port: int,
    announce: Callable[[str], None],
    tls: TLSFiles | None = None,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve until interrupted; `announce(url)` runs once the socket listens (port 0 resolved)."""
    running = start_in_thread(app, host, port, tls, forwarded_allow_ips=forwarded_allow_ips)
    announce(running.url)
    try:
        while running.thread.is_alive():
            running.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def check_listen(host: str, port: int) -> None:
    """ConfigError (exit 2) when `host`:`port` cannot be listened on: a port in use, an address not of this host."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
