"""The `/__sandbox/` admin endpoint set, shared by both emulators (not part of either real API).

Each emulator implements `AdminTarget`; `handle_admin` maps the common paths onto it and hands any
other path to the emulator's own `admin_extra` (lead conversion, form submissions, ...). Admin calls
are never counted as API calls and never fail by fault injection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sandbox.core import Clock, FaultInjector
from sandbox.seeddata import SandboxPerson


@dataclass
class SandboxHooks:
    """What an emulator cannot do alone: reseed the pair of orgs, drive the simulated people."""

    reset: Callable[[str], None] | None = None
    simulate: Callable[[float], dict[str, Any]] | None = None


class AdminTarget(Protocol):
    clock: Clock
    faults: FaultInjector
    hooks: SandboxHooks

    def people(self) -> list[SandboxPerson]: ...

    def stats(self) -> dict[str, Any]: ...

    def set_limits(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def clear(self) -> None: ...

    def admin_extra(
        self, method: str, path: str, body: dict[str, Any]
    ) -> tuple[int, Any] | None: ...


class AdminError(Exception):
    """A bad admin request: answered 400 with the message."""


def handle_admin(
    target: AdminTarget, method: str, path: str, body: dict[str, Any]
) -> tuple[int, Any]:
    """Answer one admin call: (HTTP status, JSON body). path is what follows `/__sandbox/`."""
    try:
        return _dispatch(target, method, path.strip("/"), body)
    except (AdminError, ValueError, KeyError, TypeError) as exc:
        return 400, {"error": "BAD_ADMIN_REQUEST", "message": str(exc)}


def _dispatch(target: AdminTarget, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    if (method, path) == ("GET", "users"):
        return 200, [p.public() for p in target.people()]
    if (method, path) == ("GET", "stats"):
        return 200, target.stats()
    if (method, path) == ("POST", "faults"):
        target.faults.configure(
            rate=_opt_float(body, "rate"),
            latency_ms=_opt_int(body, "latency_ms"),
            kinds=body.get("kinds"),
            seed=_opt_int(body, "seed"),
        )
        return 200, target.faults.public()
    if (method, path) == ("GET", "faults"):
        return 200, target.faults.public()
    if (method, path) == ("POST", "clock"):
        seconds = float(body.get("advance_seconds", 0))
        now = target.clock.advance(timedelta(seconds=seconds))
        return 200, {"now": now.isoformat()}
    if (method, path) == ("GET", "clock"):
        return 200, {"now": target.clock.now().isoformat()}
    if (method, path) == ("POST", "limits"):
        return 200, target.set_limits(body)
    if (method, path) == ("POST", "reset"):
        seed = str(body.get("seed", "empty"))
        if target.hooks.reset is not None:
            target.hooks.reset(seed)
        elif seed == "empty":
            target.clear()
        else:
            raise AdminError("this emulator runs alone: only seed 'empty' can be reset to")
        target.faults.reset()
        return 200, {"reset": True, "seed": seed}
    if (method, path) == ("POST", "simulate"):
        if target.hooks.simulate is None:
            raise AdminError("no simulator is attached to this emulator")
        return 200, target.hooks.simulate(float(body.get("rate", 0)))
    extra = target.admin_extra(method, path, body)
    if extra is None:
        message = f"no admin endpoint {method} /__sandbox/{path}"
        return 404, {"error": "NOT_FOUND", "message": message}
    return extra


def _opt_float(body: dict[str, Any], key: str) -> float | None:
    return None if body.get(key) is None else float(body[key])


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    return None if body.get(key) is None else int(body[key])
