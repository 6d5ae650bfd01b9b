"""The command line: every command answers --help; bad input gets one clear line and exit 2.

No traceback ever reaches the user: expected failures (configuration, credentials, bad input) are
LeadBridgeError or ValueError and are printed as one line; anything else is reported as an internal
error with the hint to rerun with LEADBRIDGE_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync_engine.errors import FatalError, LeadBridgeError

if TYPE_CHECKING:
    from sync_engine.engine import SyncEngine

Handler = Callable[[argparse.Namespace], int]


def _rate(value: str) -> float:
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if rate < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {rate}")
    return rate


def _fraction(value: str) -> float:
    rate = _rate(value)
    if rate > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {rate}")
    return rate


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {port}")
    return port


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve both emulators until interrupted; print and write the connection lines."""
    from sandbox.runner import Sandbox, parse_seed_spec

    seed = parse_seed_spec(args.seed)
    sandbox = Sandbox(
        seed=seed,
        data_dir=Path(args.data_dir),
        sf_port=args.sf_port,
        hs_port=args.hs_port,
        fault_rate=args.fault_rate,
    )
    env = sandbox.start()
    for line in env.lines():
        print(line)
    print(f"# written to {Path(args.data_dir) / 'sandbox.env'}", file=sys.stderr)
    if args.simulate:
        sandbox.simulate(args.simulate)
        print(f"# simulating people at {args.simulate} actions/s", file=sys.stderr)
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def _engine(args: argparse.Namespace) -> SyncEngine:
    from sync_engine.runtime import (
        build_engine,
        prepare_engine_process,
        resolve_settings,
        settle_engine_process,
    )

    prepare_engine_process()  # this process only syncs
    engine = build_engine(resolve_settings())
    settle_engine_process()
    return engine


def cmd_once(args: argparse.Namespace) -> int:
    """One cycle; record-level errors are reported in the summary, not as a failure."""
    report = _engine(args).run_once(kind="scheduled")
    print(report.summary())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Cycles until interrupted (Ctrl-C or SIGTERM ends the wait at once)."""
    from sync_engine.scheduler import Scheduler

    scheduler = Scheduler(_engine(args), fixed_interval=args.interval)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    try:
        status = scheduler.run_forever(max_cycles=args.cycles)
    except KeyboardInterrupt:
        scheduler.stop()
        return 0
    for line in status.history[-5:]:
        print(line)
    if status.stopped_reason:
        raise FatalError(status.stopped_reason)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The health summary from the audit store (no call to either system)."""
    from sync_engine.queries import status_summary
    from sync_engine.runtime import resolve_settings
    from sync_engine.store import AuditStore

    settings = resolve_settings()
    summary = status_summary(AuditStore(settings.db_path))
    for line in format_status(summary):
        print(line)
    return 0


def format_status(summary: dict[str, Any]) -> list[str]:
    run = summary.get("last_run")
    engine = summary.get("engine") or {}
    lines = [
        "engine: "
        + ("paused" if engine.get("paused") else "active")
        + (f", last heartbeat {engine['heartbeat_at']}" if engine.get("heartbeat_at") else ""),
    ]
    if run:
        lines.append(
            f"last run {run['run_id']} ({run['kind']}) {run['status']} at {run['started_at']}: "
            f"read {run['records_read']}, wrote {run['records_written']}, "
            f"{run['error_count']} errors"
        )
    else:
        lines.append("no run yet: start one with `python -m sync_engine once`")
    errors = summary.get("open_errors") or {}
    lines.append(
        "open errors: " + (", ".join(f"{k} {v}" for k, v in errors.items()) if errors else "none")
    )
    for system, usage in (summary.get("api_usage_today") or {}).items():
        quota = ""
        if usage.get("daily_limit"):
            quota = f" (org: {usage.get('used_today')} of {usage['daily_limit']} used today)"
        lines.append(f"{system} API calls today by LeadBridge: {usage.get('calls', 0)}{quota}")
    lines.append(f"linked records: {summary.get('links', 0)}")
    lines.append(f"open duplicate clusters: {summary.get('open_duplicates', 0)}")
    return lines


def _positive(value: str) -> float:
    seconds = _rate(value)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {seconds}")
    return seconds


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync_engine",
        description="LeadBridge: HubSpot <-> Salesforce sync engine.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sb = sub.add_parser(
        "sandbox",
        help="serve the Salesforce and HubSpot emulators on 127.0.0.1",
        description="Serve both emulators with seeded data; print the KEY=value lines to "
        "connect and write them to data/sandbox/sandbox.env.",
    )
    sb.add_argument("--seed", default="default", help="default, empty, or a seed number")
    sb.add_argument("--sf-port", type=_port, default=8701, help="Salesforce port (HTTPS)")
    sb.add_argument("--hs-port", type=_port, default=8702, help="HubSpot port (HTTP)")
    sb.add_argument("--fault-rate", type=_fraction, default=0.0, help="share of calls that fail")
    sb.add_argument(
        "--simulate", type=_rate, default=0.0, help="simulated people's actions per second"
    )
    sb.add_argument("--data-dir", default="data/sandbox", help=argparse.SUPPRESS)
    sb.set_defaults(handler=cmd_sandbox)
    once = sub.add_parser(
        "once",
        help="run one sync cycle",
        description="Run one sync cycle. Exit 0 when the cycle ran (record errors included); "
        "non-zero with a one-line reason on a fatal configuration or credential error.",
    )
    once.set_defaults(handler=cmd_once)
    run = sub.add_parser(
        "run",
        help="sync continuously",
        description="Run sync cycles until interrupted: every --interval seconds, or adaptive "
        "(fast while changes flow, backing off to [schedule] interval_seconds when idle).",
    )
    run.add_argument(
        "--interval", type=_positive, default=None, help="fixed seconds between cycles"
    )
    run.add_argument("--cycles", type=_count, default=None, help=argparse.SUPPRESS)
    run.set_defaults(handler=cmd_run)
    status = sub.add_parser(
        "status", help="health summary", description="Print the health summary from DuckDB."
    )
    status.set_defaults(handler=cmd_status)
    from sync_engine.bench import add_parser as add_bench

    add_bench(sub, count=_count, positive=_positive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except FatalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (LeadBridgeError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("LEADBRIDGE_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (rerun with LEADBRIDGE_DEBUG=1 "
            "for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 3
