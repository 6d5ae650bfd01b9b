"""The API budget and adaptive polling: how many calls a cycle may spend, and when to poll next.

Salesforce counts every REST call against the org's DailyApiRequests, shared with every other
integration; past it each call fails with 403 REQUEST_LIMIT_EXCEEDED. HubSpot counts a daily
allowance per portal the same way. LeadBridge therefore spends only its own cap per system (an
explicit `daily_cap`, else `daily_share` of the limit the system reports via `/limits`,
`Sforce-Limit-Info` or `X-HubSpot-RateLimit-Daily`), one cycle spends only `per_run_share` of what
is left today, polling slows as the cap nears, and at the cap the engine stops calling that system
and records one `api_limit` error saying when it resumes: it never runs into the vendor's wall.

Days are UTC days. Salesforce's limit is really a rolling 24 hours; the usage it reports in every
response already reflects that, so only LeadBridge's own count and the resume time are
approximated by the UTC calendar day (midnight UTC is when the sandbox resets too).

Everything here is pure: the engine passes the time, the latest quota and what it spent today.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync_engine.config import Budget, Schedule

SECONDS_PER_DAY = 86_400
API_LIMIT_CATEGORY = "api_limit"
API_LIMIT_CODE = "DAILY_BUDGET_REACHED"
SYSTEM_LABELS: dict[str, str] = {"hubspot": "HubSpot", "salesforce": "Salesforce"}


# ================================================================ settings


@dataclass(frozen=True)
class BudgetSettings:
    """One system's budget.

    daily_share: share of the system's daily limit LeadBridge may spend when daily_cap is unset.
    daily_cap: an explicit number of calls per UTC day (never more than the system's limit).
    per_run_share: share of what is left today that one cycle may spend, so a big cycle (an
    initial load) never takes the whole day at once; min_run_calls keeps an idle poll possible.
    slow_down_at: fraction of the cap (or of the org's limit) from which polling stretches, up to
    max_slowdown times the usual interval at the cap.
    initial_batch_records: most records a staged initial sync loads in one cycle.
    """

    system: str = "salesforce"
    daily_share: float = 0.5
    daily_cap: int | None = None
    per_run_share: float = 0.1
    min_run_calls: int = 1
    slow_down_at: float = 0.8
    max_slowdown: float = 4.0
    initial_batch_records: int = 500

    def __post_init__(self) -> None:
        _check_share("daily_share", self.daily_share)
        _check_share("per_run_share", self.per_run_share)
        _check_share("slow_down_at", self.slow_down_at)
        if self.daily_cap is not None and self.daily_cap < 0:
            raise ValueError("daily_cap must be 0 or more")
        if self.min_run_calls < 0 or self.initial_batch_records < 1 or self.max_slowdown < 1:
            raise ValueError("min_run_calls >= 0, initial_batch_records >= 1, max_slowdown >= 1")

    @classmethod
    def from_config(
        cls, budget: Budget, *, system: str, daily_cap: int | None = None
    ) -> BudgetSettings:
        """From `config.Budget` ([guards.budget] in sync.toml) for one system."""
        return cls(
            system=system,
            daily_share=_CONFIG_SHARE[system](budget),
            daily_cap=daily_cap,
            per_run_share=budget.per_run_share,
            initial_batch_records=budget.initial_batch_size,
        )


_CONFIG_SHARE: dict[str, Callable[[Budget], float]] = {
    "salesforce": lambda budget: budget.salesforce_daily_share,
    "hubspot": lambda budget: budget.hubspot_daily_share,
}


@dataclass(frozen=True)
class ScheduleSettings:
    """Adaptive polling bounds.

    Poll every min_interval_s while changes flow; each idle cycle multiplies the interval by
    idle_backoff up to max_interval_s. An idle cycle costs 1 Salesforce call (one
    SystemModstamp query) and one HubSpot search per object, so a quiet day costs about
    86,400 / max_interval_s Salesforce calls: 1,440 at the default 60 s, under the 2,000 target.
    The price is latency after a quiet spell: the first edit waits up to max_interval_s (60 s);
    once edits flow the interval is back at min_interval_s, and the 1.5 backoff keeps it short
    between edits (simulated p95 from edit to pick-up: 7 s with an edit every 5 s, 12 s every
    10 s, 21 s every 20 s, 30 s every 30 s). A 120 s ceiling would halve the idle cost (720)
    but push p95 past 30 s as soon as edits are 30 s apart; 45 s buys little (1,920/day) for the
    margin it spends. Hence 60 s.
    """

    min_interval_s: float = 5.0
    max_interval_s: float = 60.0
    idle_backoff: float = 1.5

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s or self.idle_backoff < 1:
            raise ValueError("need 0 < min_interval_s <= max_interval_s and idle_backoff >= 1")

    @classmethod
    def from_config(cls, schedule: Schedule) -> ScheduleSettings:
        """From `config.Schedule`: its interval_seconds is the idle ceiling (max_interval_s)."""
        ceiling = float(schedule.interval_seconds)
        return cls(min_interval_s=min(cls.min_interval_s, ceiling), max_interval_s=ceiling)


def _check_share(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value}")


# ================================================================ the day's budget


@dataclass(frozen=True)
class Quota:
    """A system's own report: calls used today (by everyone) and its daily limit."""

    used_today: int
    daily_limit: int
    reported_at: datetime


@dataclass(frozen=True)
class RunBudget:
    """What one cycle may spend on one system, and why it is limited.

    calls_allowed is the most calls the cycle may make to the system (reads cost budget too, so
    0 means: do not call it at all). writes_paused is True at the cap; reason is then the
    `api_limit` error message, else a note when polling is slowed (None when unconstrained).
    """

    system: str
    calls_allowed: int
    writes_paused: bool
    reason: str | None
    poll_interval_factor: float
    cap: int | None = None
    spent_today: int = 0
    resume_at: datetime | None = None


def day_start(now: datetime) -> datetime:
    """00:00 UTC of now's UTC day: the engine sums its own calls since then."""
    _require_aware(now)
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


def next_day_start(now: datetime) -> datetime:
    """When the day's budget resets."""
    return day_start(now) + timedelta(days=1)


def daily_cap(settings: BudgetSettings, quota: Quota | None) -> int | None:
    """LeadBridge's calls per day on this system: the explicit cap (within the system's limit),
    else its share of the limit; None while neither is known."""
    if settings.daily_cap is not None:
        return settings.daily_cap if quota is None else min(settings.daily_cap, quota.daily_limit)
    return None if quota is None else math.floor(settings.daily_share * quota.daily_limit)


def org_used_today(quota: Quota | None, *, now: datetime) -> int | None:
    """The system's reported use, or 0 when that report is from an earlier UTC day."""
    if quota is None:
        return None
    return quota.used_today if day_start(quota.reported_at) >= day_start(now) else 0


def plan_budget(
    settings: BudgetSettings, quota: Quota | None, *, now: datetime, spent_today_by_us: int
) -> RunBudget:
    """This cycle's budget for one system, from the cap, our spend today and the system's count.

    What is left is the smaller of our cap minus our spend and the system's limit minus everyone's
    use; a cycle gets per_run_share of it (at least min_run_calls). At nothing left the cycle
    makes no calls and the reason is the api_limit error, naming the cap, the use and the resume
    time. While the limit was never reported and no cap is set, min_run_calls probe it.
    """
    _require_aware(now)
    cap = daily_cap(settings, quota)
    if cap is None:
        note = f"{_label(settings.system)} has not reported its daily API limit yet"
        return RunBudget(
            system=settings.system,
            calls_allowed=settings.min_run_calls,
            writes_paused=False,
            reason=note,
            poll_interval_factor=1.0,
        )
    used = org_used_today(quota, now=now)
    left = cap - spent_today_by_us
    if quota is not None and used is not None:
        left = min(left, quota.daily_limit - used)
    if left <= 0:
        return _paused(settings, quota, cap=cap, spent=spent_today_by_us, used=used, now=now)
    calls = min(left, max(settings.min_run_calls, math.floor(left * settings.per_run_share)))
    pressure = _pressure(cap=cap, spent=spent_today_by_us, quota=quota, used=used)
    factor = slowdown_factor(settings, pressure)
    reason = None
    if factor > 1:
        reason = (
            f"{_label(settings.system)} API use is at {pressure:.0%} of today's budget: "
            f"polling slowed {factor:.1f}x until {_when(next_day_start(now))}"
        )
    return RunBudget(
        system=settings.system,
        calls_allowed=calls,
        writes_paused=False,
        reason=reason,
        poll_interval_factor=factor,
        cap=cap,
        spent_today=spent_today_by_us,
    )


def slowdown_factor(settings: BudgetSettings, pressure: float) -> float:
    """1 below slow_down_at, rising linearly to max_slowdown at the cap."""
    if pressure < settings.slow_down_at:
        return 1.0
    if settings.slow_down_at >= 1:
        return settings.max_slowdown
    ramp = min(1.0, (pressure - settings.slow_down_at) / (1 - settings.slow_down_at))
    return 1.0 + (settings.max_slowdown - 1.0) * ramp


def _pressure(*, cap: int, spent: int, quota: Quota | None, used: int | None) -> float:
    """The tighter of our share of our cap and everyone's share of the system's limit."""
    ours = spent / cap if cap else 1.0
    if quota is None or used is None or quota.daily_limit <= 0:
        return ours
    return max(ours, used / quota.daily_limit)


def _paused(
    settings: BudgetSettings,
    quota: Quota | None,
    *,
    cap: int,
    spent: int,
    used: int | None,
    now: datetime,
) -> RunBudget:
    resume = next_day_start(now)
    return RunBudget(
        system=settings.system,
        calls_allowed=0,
        writes_paused=True,
        reason=limit_message(settings, quota, cap=cap, spent=spent, used=used, resume_at=resume),
        poll_interval_factor=settings.max_slowdown,
        cap=cap,
        spent_today=spent,
        resume_at=resume,
    )


def limit_message(
    settings: BudgetSettings,
    quota: Quota | None,
    *,
    cap: int,
    spent: int,
    used: int | None,
    resume_at: datetime,
) -> str:
    """The api_limit error: which system, whose limit, what is used, when syncing resumes, the
    fix."""
    label = _label(settings.system)
    resume = (  # a paused cycle makes no call at all (engine.run_once), reads included
        f"syncing is paused (no call to either system) until {_when(resume_at)}, when "
        f"{label}'s daily count resets"
    )
    if spent >= cap:
        return (
            f"{label} API budget reached: LeadBridge has used {spent:,} of its {cap:,}-call "
            f"daily cap ({_cap_source(settings, quota)}); {resume}. To sync sooner, raise "
            f"{_cap_key(settings)} in sync.toml."
        )
    limit = quota.daily_limit if quota is not None else cap
    return (
        f"{label} API limit nearly exhausted: the org has used {used or 0:,} of its {limit:,} "
        f"daily API requests (LeadBridge {spent:,} of them, within its {cap:,}-call cap); "
        f"{resume}, leaving the rest to other integrations."
    )


def _cap_source(settings: BudgetSettings, quota: Quota | None) -> str:
    if settings.daily_cap is not None:
        return "daily_cap in sync.toml"
    limit = f"{quota.daily_limit:,}" if quota is not None else "unknown"
    return f"{settings.daily_share:.0%} of the {limit}-call daily limit"


def _cap_key(settings: BudgetSettings) -> str:
    if settings.daily_cap is not None:
        return f"the {settings.system} daily_cap"
    return f"guards.budget.{settings.system}_daily_share"


def _label(system: str) -> str:
    return SYSTEM_LABELS.get(system, system)


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got {at!r}")


# ================================================================ staged initial sync


@dataclass(frozen=True)
class LoadCost:
    """What loading records costs one system: for each step (a read page, a matching query, a
    write batch) one call per `batches[i]` records, plus fixed_calls per cycle.

    Salesforce writes for a HubSpot→Salesforce load: LoadCost((200, 200)) (an email lookup and a
    collection write per 200); its reads for the other way: LoadCost((2000,)).
    """

    batches: tuple[int, ...]
    fixed_calls: int = 0

    def __post_init__(self) -> None:
        if not self.batches or min(self.batches) < 1 or self.fixed_calls < 0:
            raise ValueError("batches must be positive sizes and fixed_calls >= 0")

    def calls_for(self, records: int) -> int:
        """Calls needed to load `records` in one cycle (0 for none)."""
        if records <= 0:
            return 0
        return self.fixed_calls + sum(math.ceil(records / size) for size in self.batches)


def staged_initial(
    remaining_records: int,
    *,
    cost: LoadCost,
    budget_calls: int,
    batch_limit: int | None = None,
) -> int:
    """How many of the records still to load this cycle may load within budget_calls.

    Feeding it each cycle's `RunBudget.calls_allowed` splits a first load larger than a day's
    budget over cycles and days without any day going over its cap. The answer is the largest
    count whose `cost.calls_for` fits (a binary search: cost grows with the count), rounded down
    to whole batches unless it is the last of the load: a batch_limit of 500 against 200-record
    collections would otherwise pay 6 calls for 500 records instead of 4 for 400.
    """
    ceiling = max(0, remaining_records)
    if batch_limit is not None:
        ceiling = min(ceiling, batch_limit)
    low, high = 0, ceiling
    while low < high:
        middle = (low + high + 1) // 2
        if cost.calls_for(middle) <= budget_calls:
            low = middle
        else:
            high = middle - 1
    step = max(cost.batches)
    if low < remaining_records and low >= step:
        low -= low % step
    return low


def estimate_initial_days(total_records: int, *, cost: LoadCost, daily_calls: int) -> int:
    """Days a first load of total_records needs at daily_calls a day (a lower bound: the per-run
    share and idle polling stretch it); the dashboard shows it before an initial sync starts."""
    if total_records <= 0:
        return 0
    if daily_calls <= 0:
        raise ValueError("daily_calls must be positive to load anything")
    return math.ceil(cost.calls_for(total_records) / daily_calls)


# ================================================================ adaptive polling


def next_poll_interval(
    settings: ScheduleSettings,
    *,
    last_interval: float,
    changes_seen: int,
    budget: RunBudget | None = None,
) -> float:
    """Seconds until the next cycle: min_interval_s after a cycle that saw changes, else the last
    interval times idle_backoff up to max_interval_s; then stretched by the budget's factor
    (pass the tightest system's budget). Always within [min_interval_s, max_interval_s x factor].
    """
    flowing = changes_seen > 0
    base = settings.min_interval_s if flowing else last_interval * settings.idle_backoff
    base = min(settings.max_interval_s, max(settings.min_interval_s, base))
    factor = 1.0 if budget is None else max(1.0, budget.poll_interval_factor)
    return base * factor


def tightest(budgets: Iterable[RunBudget]) -> RunBudget | None:
    """The budget that slows polling most (what next_poll_interval should be given)."""
    return max(budgets, key=lambda b: b.poll_interval_factor, default=None)


def idle_calls_per_day(settings: ScheduleSettings, *, calls_per_cycle: int) -> int:
    """Calls a day with no changes costs once polling has backed off to max_interval_s."""
    return math.ceil(SECONDS_PER_DAY / settings.max_interval_s) * calls_per_cycle


__all__ = [
    "API_LIMIT_CATEGORY",
    "API_LIMIT_CODE",
    "SECONDS_PER_DAY",
    "BudgetSettings",
    "LoadCost",
    "Quota",
    "RunBudget",
    "ScheduleSettings",
    "daily_cap",
    "day_start",
    "estimate_initial_days",
    "idle_calls_per_day",
    "limit_message",
    "next_day_start",
    "next_poll_interval",
    "org_used_today",
    "plan_budget",
    "slowdown_factor",
    "staged_initial",
    "tightest",
]
