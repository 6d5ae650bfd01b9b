"""The dashboard's engine: the embedded default (sandbox + engine + scheduler) or the real orgs.

`streamlit run app.py` with no credentials starts the seeded sandbox with its simulated people,
points the settings at it and runs the engine's `Scheduler` in a background thread, so a newcomer
sees a live sync within a minute. With credentials there is no sandbox: the same engine runs over
the real orgs. The dashboard keeps one `Runtime` per process (a `st.cache_resource` singleton in
`pages/_common.py`), so the engine keeps running when every browser tab is closed.

Only one process may run cycles against one audit store: a second dashboard, or a headless
`python -m sync_engine run`, would otherwise double every write. So before starting its scheduler a
process claims the store inside one write transaction (writes are exclusive across processes):
when another live engine heartbeat is recent (within about two intervals) it stays a reader, and
it never starts a sandbox of its own when that engine already serves one (`sandbox.env`).

Nothing here imports Streamlit: tests and the benchmark build runtimes directly.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_engine.access import load_access
from sync_engine.errors import LeadBridgeError
from sync_engine.queries import engine_state, heartbeat_age
from sync_engine.settings import SECRETS_FILE, Settings, load_settings
from sync_engine.store import AuditStore

log = logging.getLogger(__name__)

EMBEDDED_FLAG = "LEADBRIDGE_EMBEDDED"  # "0": never start a sandbox or a scheduler (tests)
SANDBOX_DIR_VAR = "LEADBRIDGE_SANDBOX_DIR"  # where the embedded sandbox keeps certs and .env
SIMULATE_VAR = "LEADBRIDGE_SIMULATE"  # simulated people's actions per second
DEFAULT_SANDBOX_DIR = Path("data/sandbox")
DEFAULT_SIMULATE_RATE = 0.5
HEARTBEAT_EVERY_S = 20.0
LIVE_SLACK_S = 30.0
RUN_IN_PROGRESS_WINDOW = timedelta(minutes=15)


@dataclass
class Runtime:
    """What the dashboard works with: settings, the store, the engine (for schema and fixes),
    and, in the process that owns the cycles, the scheduler and the embedded sandbox."""

    settings: Settings
    store: AuditStore
    engine: Any = None  # SyncEngine | None; None when no system can be reached
    scheduler: Any = None  # Scheduler | None; None in a reader process
    sandbox: Any = None  # sandbox.runner.Sandbox | None
    role: str = "reader"  # "engine" (runs the cycles here) or "reader"
    problem: str | None = None  # why the engine could not be built, for the home page
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _beat_stop: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def mode(self) -> str:
        """`sandbox` when syncing the emulators, `live` with real credentials, else `none`."""
        if self.sandbox is not None or self._sandbox_settings():
            return "sandbox"
        return "live" if self.settings.has_credentials else "none"

    def _sandbox_settings(self) -> bool:
        return "127.0.0.1" in (self.settings.hubspot.base_url or "")

    def wake(self) -> None:
        """Run the next cycle now, when the cycles run in this process (elsewhere they pick the
        change up at their next cycle)."""
        if self.scheduler is not None:
            self.scheduler.wake()

    def stop(self) -> None:
        """Stop the scheduler, the heartbeat and the sandbox (the cache's on_release)."""
        self._beat_stop.set()
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler.join(timeout=30)
        if self.sandbox is not None:
            self.sandbox.stop()

    def status(self) -> dict[str, Any]:
        """Engine state for the home page: paused, heartbeat, next cycle, who runs the cycles."""
        with self.store.read() as conn:
            state = engine_state(conn)
        sched = self.scheduler.status if self.scheduler is not None else None
        state.update(
            role=self.role,
            mode=self.mode,
            problem=self.problem,
            cycles_here=sched.cycles if sched else None,
            last_error=sched.last_error if sched else None,
            stopped_reason=sched.stopped_reason if sched else None,
            scheduler_running=bool(sched and sched.running),
        )
        state["label"] = engine_label(state, role=self.role, now=datetime.now(UTC))
        if sched and sched.next_cycle_at and not state.get("next_cycle_at"):
            state["next_cycle_at"] = sched.next_cycle_at
        return state


def engine_label(state: Mapping[str, Any], *, role: str, now: datetime) -> str:
    """One word for the home page: paused, running, starting, stopped or not running."""
    if state.get("paused"):
        return "paused"
    if state.get("stopped_reason"):
        return "stopped"
    age = heartbeat_age(state, now=now)
    if role == "engine":
        return "running" if age is not None else "starting"
    if age is not None and age <= RUN_IN_PROGRESS_WINDOW:
        return "running"
    return "not running"


# ---------------------------------------------------------------------------------- liveness


def live_window(interval_seconds: float) -> timedelta:
    """How recent another engine's heartbeat must be to count as alive: two intervals, plus
    slack for a cycle that is still writing."""
    return timedelta(seconds=2 * interval_seconds + LIVE_SLACK_S)


def other_engine_alive(
    state: Mapping[str, Any],
    *,
    interval_seconds: float,
    now: datetime,
    pid: int | None = None,
    host: str | None = None,
) -> bool:
    """True when another process heartbeats on this store (so this one must only read).

    Our own pid never counts; a heartbeat from a dead pid on this host does not either; a run in
    progress extends the window (a long initial cycle heartbeats only when it ends)."""
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() if host is None else host
    age = heartbeat_age(state, now=now)
    if age is None:
        return False
    beat_pid = state.get("pid")
    if state.get("host") == host and beat_pid is not None and not _other_live_pid(beat_pid, pid):
        return False
    window = live_window(interval_seconds)
    if state.get("current_run_id") is not None:
        window = max(window, RUN_IN_PROGRESS_WINDOW)
    return age <= window


def _other_live_pid(beat_pid: Any, own_pid: int) -> bool:
    return int(beat_pid) != own_pid and _pid_alive(int(beat_pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_engine(store: AuditStore, *, interval_seconds: float) -> bool:
    """Become the process that runs cycles on this store, unless another live one is; the check
    and the claim share one write transaction, so two processes starting together cannot both
    win."""
    with store.write() as tx:
        state = engine_state(tx.conn)
        if other_engine_alive(state, interval_seconds=interval_seconds, now=tx.now):
            return False
        tx.heartbeat(next_cycle_at=tx.now)
    return True


def engine_elsewhere(store: AuditStore, *, interval_seconds: float) -> bool:
    """Read-only look: is another process already running cycles on this store?"""
    with store.read() as conn:
        state = engine_state(conn)
    return other_engine_alive(state, interval_seconds=interval_seconds, now=datetime.now(UTC))


# ---------------------------------------------------------------------------------- building


def start_runtime(env: Mapping[str, str] | None = None) -> Runtime:
    """Build this process's runtime: start the sandbox and the scheduler when this process should
    run the cycles, otherwise read only. Never raises for a bad config or an unreachable system:
    the problem is kept for the home page."""
    environ = dict(os.environ if env is None else env)
    embedded = environ.get(EMBEDDED_FLAG, "1") != "0"
    settings = load_settings(environ)
    guarded = _guarded_secrets(settings, environ)
    store = AuditStore(settings.db_path, secrets=guarded)
    interval = _interval(settings)
    sandbox_dir = Path(environ.get(SANDBOX_DIR_VAR) or DEFAULT_SANDBOX_DIR)
    sandbox = None
    if not settings.has_credentials:
        settings, sandbox = _sandbox_settings(
            environ, store, interval=interval, sandbox_dir=sandbox_dir, embedded=embedded
        )
        store = AuditStore(settings.db_path, secrets=_guarded_secrets(settings, environ))
    runtime = Runtime(settings=settings, store=store, sandbox=sandbox)
    runtime.engine, runtime.problem = _build_engine(settings, store)
    if embedded and runtime.engine is not None and claim_engine(store, interval_seconds=interval):
        _start_scheduler(runtime)
    return runtime


def _guarded_secrets(settings: Settings, environ: Mapping[str, str]) -> tuple[str, ...]:
    """What the store refuses to write: the systems' credentials and the dashboard's own (the
    admin password, OIDC client secrets)."""
    try:
        with SECRETS_FILE.open("rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        raw = {}
    return (*settings.secrets, *load_access(raw, environ).secrets)


def _interval(settings: Settings) -> float:
    from sync_engine.config import load_config

    try:
        return float(load_config(settings.config_path).schedule.interval_seconds)
    except (LeadBridgeError, OSError, ValueError):
        return 60.0


def _sandbox_settings(
    environ: Mapping[str, str],
    store: AuditStore,
    *,
    interval: float,
    sandbox_dir: Path,
    embedded: bool,
) -> tuple[Settings, Any]:
    """Settings for the sandbox: the one another live engine serves (its sandbox.env), or a new
    one started here (embedded default). With embedding off, whatever sandbox.env says."""
    env_file = sandbox_dir / "sandbox.env"
    keep = {k: v for k, v in environ.items() if k in ("SYNC_DB", "SYNC_CONFIG") and v}
    if not embedded or (env_file.exists() and engine_elsewhere(store, interval_seconds=interval)):
        from sync_engine.runtime import read_env_file

        found = read_env_file(env_file) if env_file.exists() else {}
        return load_settings({**found, **keep}), None
    from sandbox.runner import Sandbox

    sandbox_dir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(seed="default", data_dir=sandbox_dir, sf_port=0, hs_port=0)
    sandbox_env = sandbox.start()
    rate = float(environ.get(SIMULATE_VAR) or DEFAULT_SIMULATE_RATE)
    if rate > 0:
        sandbox.simulate(rate)
    return load_settings({**sandbox_env.as_env(), **keep}), sandbox


def _build_engine(settings: Settings, store: AuditStore) -> tuple[Any, str | None]:
    from sync_engine.runtime import build_engine

    if not settings.has_credentials:
        return None, (
            "no credentials and no sandbox: set the SALESFORCE_* and HUBSPOT_* variables, or "
            "start `python -m sync_engine sandbox`"
        )
    try:
        return build_engine(settings, store=store), None
    except (LeadBridgeError, OSError, ValueError) as exc:
        return None, str(exc)


def _start_scheduler(runtime: Runtime) -> None:
    from sync_engine.scheduler import Scheduler

    runtime.scheduler = Scheduler(runtime.engine)
    runtime.scheduler.start()
    runtime.role = "engine"
    threading.Thread(
        target=_keep_beating, args=(runtime,), name="leadbridge-heartbeat", daemon=True
    ).start()


def _keep_beating(runtime: Runtime) -> None:
    """Heartbeat while a long cycle runs, so another process does not take the store over."""
    while not runtime._beat_stop.wait(HEARTBEAT_EVERY_S):
        sched = runtime.scheduler
        if sched is None or not sched.status.running:
            continue
        try:
            with runtime.store.write() as tx:
                tx.heartbeat(next_cycle_at=sched.status.next_cycle_at)
        except LeadBridgeError as exc:  # the store was busy: the next beat will do
            log.warning("heartbeat skipped: %s", exc)
