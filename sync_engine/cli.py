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

from sync_engine.errors import FatalError, LeadBridgeError

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
