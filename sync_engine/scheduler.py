"""Running cycles continuously: adaptive polling, pause/resume, heartbeat, clean stop.

The loop asks the store, before each cycle, whether the engine is paused (the dashboard's switch
works across processes), records a heartbeat with the next cycle's time, and waits on an Event so
that a stop request ends the wait at once. Transient failures wait for the next cycle; a fatal
one ends the loop with its message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sync_engine.budget import ScheduleSettings, next_poll_interval
from sync_engine.engine import RunReport, SyncEngine
from sync_engine.errors import FatalError, RetriableError
from sync_engine.queries import engine_state

log = logging.getLogger(__name__)


@dataclass
class SchedulerStatus:
    """What the loop is doing, for the dashboard (read from another thread)."""

    running: bool = False
    cycles: int = 0
    last_report: RunReport | None = None
    last_error: str | None = None
    next_cycle_at: datetime | None = None
    stopped_reason: str | None = None
    history: list[str] = field(default_factory=list)


class Scheduler:
    """Runs engine cycles until stopped, at the adaptive interval."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        schedule: ScheduleSettings | None = None,
        fixed_interval: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.schedule = schedule or ScheduleSettings.from_config(engine.config.schedule)
        self.fixed_interval = fixed_interval
        self.clock = clock
        self.status = SchedulerStatus()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self, *, max_cycles: int | None = None) -> SchedulerStatus:
        """Cycle until stop() (or max_cycles); returns why it stopped."""
        self.status.running = True
        interval = self.schedule.min_interval_s
        try:
            while not self._stop.is_set():
                changes = self._cycle()
                if self.status.stopped_reason:
                    break
                if max_cycles is not None and self.status.cycles >= max_cycles:
                    break
                interval = self._next_interval(interval, changes)
                self._wait(interval)
        finally:
            self.status.running = False
        return self.status

    def _cycle(self) -> int:
        """One cycle unless paused; returns how many records it read."""
        with self.engine.store.read() as conn:
            paused = bool(engine_state(conn).get("paused"))
        if paused:
            return 0
        try:
            report = self.engine.run_once()
        except RetriableError as exc:
            self.status.last_error = str(exc)
            log.warning("cycle failed, will retry: %s", exc)
            return 0
        except FatalError as exc:
            self.status.last_error = self.status.stopped_reason = str(exc)
            log.error("stopping: %s", exc)
            return 0
        except Exception as exc:  # a bug must not silently kill the engine thread
            self.status.last_error = f"unexpected {type(exc).__name__}: {exc}"
            log.exception("cycle failed unexpectedly; the next cycle runs as scheduled")
            return 0
        self.status.cycles += 1
        self.status.last_report = report
        self.status.last_error = None
        self.status.history = [*self.status.history[-49:], report.summary()]
        return report.records_read

    def _next_interval(self, last: float, changes: int) -> float:
        if self.fixed_interval is not None:
            interval = self.fixed_interval
        else:
            interval = next_poll_interval(self.schedule, last_interval=last, changes_seen=changes)
        self.status.next_cycle_at = self.clock() + timedelta(seconds=interval)
        with self.engine.store.write() as tx:
            tx.heartbeat(next_cycle_at=self.status.next_cycle_at)
        return interval

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def wake(self) -> None:
        """Run the next cycle now (after a fix, a resume, a criteria change)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def start(self) -> threading.Thread:
        """Run in a daemon thread (the dashboard's embedded engine)."""
        self._thread = threading.Thread(
            target=self.run_forever, name="leadbridge-engine", daemon=True
        )
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
