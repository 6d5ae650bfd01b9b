"""What both emulators share: a controllable clock, faults, TLS material and a server thread.

The clock can be advanced from the admin endpoints so that tests of daily limits and staged syncs
run in simulated time; the fault injector makes a chosen share of calls fail the way the real
service does under strain; the server runs a WSGI app on 127.0.0.1 in a background thread.
"""

from __future__ import annotations

import contextlib
import io
import random
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Clock:
    """Wall-clock time plus an offset that the admin endpoints can move forward (simulated days)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move simulated time forward by delta (never backwards: stamps must stay monotonic)."""
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    @property
    def offset(self) -> timedelta:
        return self._offset


@dataclass
class FaultConfig:
    """Share of calls that fail (0..1), added latency, and which kinds of fault may be chosen."""

    rate: float = 0.0
    latency_ms: int = 0
    kinds: tuple[str, ...] = ()
    seed: int | None = None


class FaultInjector:
    """Decides per call whether it fails and how; each emulator renders the kind its way and
    notes it, so tests can check every injected fault against what the client recorded."""

    def __init__(self, default_kinds: tuple[str, ...]) -> None:
        self.default_kinds = default_kinds
        self.config = FaultConfig(kinds=default_kinds)
        self.injected: Counter[str] = Counter()
        self._rng = random.Random()
        self._lock = threading.Lock()

    def configure(
        self,
        *,
        rate: float | None = None,
        latency_ms: int | None = None,
        kinds: Iterable[str] | None = None,
        seed: int | None = None,
    ) -> FaultConfig:
        """Change the fault settings; unknown kinds are refused so a typo never disables faults."""
        with self._lock:
            if rate is not None:
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
                self.config.rate = rate
            if latency_ms is not None:
                if latency_ms < 0:
                    raise ValueError("latency_ms must be >= 0")
                self.config.latency_ms = latency_ms
            if kinds is not None:
                chosen = tuple(kinds) or self.default_kinds
                unknown = sorted(set(chosen) - set(self.default_kinds))
                if unknown:
                    raise ValueError(
                        f"unknown fault kinds {unknown}; allowed: {list(self.default_kinds)}"
                    )
                self.config.kinds = chosen
            if seed is not None:
                self.config.seed = seed
                self._rng.seed(seed)
            return self.config

    def reset(self) -> None:
        with self._lock:
            self.config = FaultConfig(kinds=self.default_kinds)
            self.injected.clear()

    def note(self, kind: str) -> None:
        """Count a fault as it was rendered (an emulator may render a picked kind as another)."""
        with self._lock:
            self.injected[kind] += 1

    def public(self) -> dict[str, object]:
        """The admin view: settings and how many faults of each kind were injected."""
        with self._lock:
            config = self.config
            return {
                "rate": config.rate,
                "latency_ms": config.latency_ms,
                "kinds": list(config.kinds),
                "injected": dict(self.injected),
            }

    def pick(self) -> str | None:
        """Sleep for the configured latency, then return a fault kind for this call, or None."""
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)
        with self._lock:
            if self.config.rate and self._rng.random() < self.config.rate:
                return self._rng.choice(self.config.kinds)
        return None


def new_token(prefix: str) -> str:
    """A fresh opaque token (never derived from a seed: tokens are secrets even in the sandbox)."""
    return f"{prefix}{secrets.token_urlsafe(24)}"


@dataclass
class TLSMaterial:
    """Paths of the sandbox CA and the 127.0.0.1 server certificate, made on first start."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def ensure_tls(directory: Path) -> TLSMaterial:
    """Create (once) a local CA and a certificate for 127.0.0.1/localhost under directory.

    simple-salesforce always builds https:// URLs, so the Salesforce emulator must speak TLS; the
    client trusts this CA through SALESFORCE_CA_BUNDLE.
    """
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    material = TLSMaterial(
        ca_pem=directory / "ca.pem",
        cert_pem=directory / "server.pem",
        key_pem=directory / "server.key",
    )
    if all(p.exists() for p in (material.ca_pem, material.cert_pem, material.key_pem)):
        return material
    ca = trustme.CA(organization_name="LeadBridge sandbox CA")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(material.ca_pem))
    cert.private_key_pem.write_to_path(str(material.key_pem))
    with material.cert_pem.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    material.key_pem.chmod(0o600)
    return material


class _KeepAliveHandler(WSGIRequestHandler):
    """Request handler that keeps connections alive, as Salesforce and HubSpot do, and does not
    print a line per request (the audit store is the log).

    werkzeug's own handler closes every connection (its `Connection: close`), so each client
    call paid a new TCP connection and, for Salesforce, a TLS handshake that production, whose
    clients reuse pooled connections, does not. Here a request's body is read whole by its
    Content-Length before the app runs, so the stream is at the next request line when the
    answer is sent; a request whose end cannot be found that way is served by werkzeug's handler,
    which closes the connection."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)  # type: ignore[attr-defined]
        super().finish()

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0" if self.command in _BODYLESS else None)
        if self.headers.get("Transfer-Encoding") or self.headers.get("Expect") or length is None:
            super().run_wsgi()
            return
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
        answer: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer[:] = [status, headers]
            return lambda data: answer.append(data)

        try:
            chunks = self.server.app(environ, start_response)
            try:
                body = b"".join([*answer[2:], *chunks])
            finally:
                getattr(chunks, "close", lambda: None)()
        except ConnectionError:
            self.close_connection = True  # the app reset the connection (a fault it injects)
            return
        except Exception:  # the emulators answer their own errors; this is a bug: log, close
            self.close_connection = True
            self.log_error("error on %s %s", self.command, self.path)
            self.send_error(500)
            return
        self._send(answer[0], answer[1], body)

    def _send(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code, _, message = status.partition(" ")
        self.log_request(code)
        self.send_response_only(int(code), message)  # Server and Date follow, Date once
        self.send_header("Server", self.version_string())
        if not any(key.lower() == "date" for key, _ in headers):
            self.send_header("Date", self.date_time_string())
        for key, value in headers:
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, knowing its open connections so that stopping it also ends
    the kept-alive ones (a stopped sandbox answers nothing, as a dead host would)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.accepted = 0  # connections served since start
        super().__init__(*args, **kwargs)

    def track(self, sock: socket.socket, *, open_: bool) -> None:
        with self._open_lock:
            if open_:
                self._open.add(sock)
                self.accepted += 1
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        with self._open_lock:
            socks, self._open = list(self._open), set()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class ServerThread:
    """A threaded werkzeug server on 127.0.0.1 running app in the background until stop()."""

    app: WSGIApp
    port: int = 0
    tls: TLSMaterial | None = None
    host: str = "127.0.0.1"
    _server: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self) -> str:
        """Bind (port 0 picks a free one), serve in a daemon thread, and return the base URL."""
        ssl_context = (str(self.tls.cert_pem), str(self.tls.key_pem)) if self.tls else None
        self._server = _Server(
            self.host, self.port, self.app, handler=_KeepAliveHandler, ssl_context=ssl_context
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox-{self.port}", daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def connections_accepted(self) -> int:
        """Connections the server has accepted since it started (each client call on a new
        connection counts one; calls on a kept-alive connection none)."""
        return self._server.accepted if self._server is not None else 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
