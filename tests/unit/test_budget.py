"""API budget and adaptive polling: caps, per-run shares, the pause at the cap and the next-day
resume, staged initial loads that respect every day's cap, and polling that is fast while edits
flow and cheap when idle."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync_engine.budget import (
    SECONDS_PER_DAY,
    BudgetSettings,
    LoadCost,
    Quota,
    RunBudget,
    ScheduleSettings,
    daily_cap,
    day_start,
    estimate_initial_days,
    idle_calls_per_day,
    next_day_start,
    next_poll_interval,
    plan_budget,
    slowdown_factor,
    staged_initial,
    tightest,
)
from sync_engine.config import Budget, Schedule

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 28, 20, 49, 32, tzinfo=UTC)
SF = BudgetSettings(system="salesforce")


def quota(used: int, limit: int = 15_000, *, at: datetime = NOW) -> Quota:
    return Quota(used_today=used, daily_limit=limit, reported_at=at)


# ---------------------------------------------------------------- caps and shares


@pytest.mark.parametrize(
    ("settings", "reported", "cap"),
    [
        (SF, quota(0), 7_500),
        (BudgetSettings(daily_share=0.2), quota(0), 3_000),
        (BudgetSettings(daily_cap=1_000), quota(0), 1_000),
        (BudgetSettings(daily_cap=20_000), quota(0), 15_000),  # never above the org's limit
        (BudgetSettings(daily_cap=300), None, 300),
        (SF, None, None),
    ],
)
def test_daily_cap(settings, reported, cap):
    assert daily_cap(settings, reported) == cap


@pytest.mark.parametrize(
    ("spent", "used", "settings", "allowed"),
    [
        (0, 0, SF, 750),  # a tenth of the 7,500 left
        (7_000, 7_000, SF, 50),  # a tenth of the 500 left
        (7_495, 7_495, SF, 1),  # at least one call (an idle poll) while anything is left
        (7_495, 7_495, BudgetSettings(min_run_calls=10), 5),  # but never past the cap
        (0, 14_900, SF, 10),  # others used the org's limit: 100 left for everyone
        (0, 0, BudgetSettings(per_run_share=1.0), 7_500),
    ],
)
def test_per_run_share(spent, used, settings, allowed):
    budget = plan_budget(settings, quota(used), now=NOW, spent_today_by_us=spent)
    assert budget.calls_allowed == allowed
    assert not budget.writes_paused


def test_unknown_limit_allows_a_probe():
    budget = plan_budget(SF, None, now=NOW, spent_today_by_us=0)
    assert budget.calls_allowed == 1
    assert not budget.writes_paused
    assert "has not reported" in budget.reason


# ---------------------------------------------------------------- the pause and the resume


def test_reaching_the_cap_pauses_with_an_api_limit_message():
    budget = plan_budget(SF, quota(9_000), now=NOW, spent_today_by_us=7_500)
    assert budget.calls_allowed == 0
    assert budget.writes_paused
    assert budget.resume_at == datetime(2026, 11, 29, tzinfo=UTC)
    assert budget.reason == (
        "Salesforce API budget reached: LeadBridge has used 7,500 of its 7,500-call daily cap "
        "(50% of the 15,000-call daily limit); syncing is paused (no call to either system) "
        "until 2026-11-29 00:00 UTC, when Salesforce's daily count resets. To sync sooner, raise "
        "guards.budget.salesforce_daily_share in sync.toml."
    )


def test_explicit_cap_message_names_the_cap_setting():
    settings = BudgetSettings(system="hubspot", daily_cap=2_000)
    budget = plan_budget(settings, quota(2_100, 250_000), now=NOW, spent_today_by_us=2_100)
    assert budget.writes_paused
    assert "HubSpot API budget reached" in budget.reason
    assert "2,100 of its 2,000-call daily cap (daily_cap in sync.toml)" in budget.reason


def test_org_exhausted_by_others_pauses_before_request_limit_exceeded():
    budget = plan_budget(SF, quota(15_000), now=NOW, spent_today_by_us=120)
    assert budget.calls_allowed == 0
    assert budget.writes_paused
    assert "the org has used 15,000 of its 15,000 daily API requests" in budget.reason
    assert "LeadBridge 120 of them" in budget.reason
    assert "2026-11-29 00:00 UTC" in budget.reason


@pytest.mark.parametrize(
    "later", [timedelta(hours=3, minutes=11), timedelta(days=1), timedelta(days=3, hours=5)]
)
def test_writes_resume_on_the_next_utc_day(later):
    paused = plan_budget(SF, quota(7_500), now=NOW, spent_today_by_us=7_500)
    now = paused.resume_at + later - timedelta(hours=3, minutes=11)
    # The engine sums its calls since day_start(now): none yet today. The last report, from
    # yesterday, said the whole org limit was used: that no longer counts either.
    budget = plan_budget(SF, quota(15_000, at=NOW), now=now, spent_today_by_us=0)
    assert not budget.writes_paused
    assert budget.calls_allowed == 750
    assert budget.poll_interval_factor == 1.0


def test_still_paused_one_second_before_midnight():
    before = datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)
    budget = plan_budget(SF, quota(7_500, at=NOW), now=before, spent_today_by_us=7_500)
    assert budget.writes_paused


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (NOW, datetime(2026, 11, 28, tzinfo=UTC)),
        # 02:00 in UTC+5 is 21:00 UTC the previous day: days are UTC days.
        (
            datetime(2026, 11, 29, 2, 0, tzinfo=timezone(timedelta(hours=5))),
            datetime(2026, 11, 28, tzinfo=UTC),
        ),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)),
    ],
)
def test_days_are_utc_days(now, start):
    assert day_start(now) == start
    assert next_day_start(now) == start + timedelta(days=1)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_budget(SF, quota(0), now=datetime(2026, 11, 28, 12), spent_today_by_us=0)


# ---------------------------------------------------------------- slowing down near the cap


@pytest.mark.parametrize(
    ("pressure", "factor"), [(0.0, 1.0), (0.79, 1.0), (0.8, 1.0), (0.9, 2.5), (1.0, 4.0)]
)
def test_slowdown_factor(pressure, factor):
    assert slowdown_factor(SF, pressure) == pytest.approx(factor)


def test_approaching_the_cap_slows_polling():
    calm = plan_budget(SF, quota(3_000), now=NOW, spent_today_by_us=3_000)
    tight = plan_budget(SF, quota(6_750), now=NOW, spent_today_by_us=6_750)  # 90% of the cap
    assert calm.poll_interval_factor == 1.0
    assert calm.reason is None
    assert tight.poll_interval_factor == pytest.approx(2.5)
    assert "90% of today's budget" in tight.reason
    assert not tight.writes_paused


def test_busy_org_slows_polling_even_when_our_share_is_fresh():
    budget = plan_budget(SF, quota(13_500), now=NOW, spent_today_by_us=0)
    assert budget.poll_interval_factor == pytest.approx(2.5)


# ---------------------------------------------------------------- staged initial sync


SF_WRITES = LoadCost((200, 200))  # an email lookup and a collection write per 200 records
SF_READS = LoadCost((2_000,), fixed_calls=1)
HS_WRITES = LoadCost((100,))


@pytest.mark.parametrize(
    ("cost", "records", "calls"),
    [
        (SF_WRITES, 0, 0),
        (SF_WRITES, 1, 2),
        (SF_WRITES, 200, 2),
        (SF_WRITES, 201, 4),
        (SF_READS, 4_001, 4),
        (HS_WRITES, 1_000, 10),
    ],
)
def test_load_cost(cost, records, calls):
    assert cost.calls_for(records) == calls


@pytest.mark.parametrize(
    ("remaining", "budget_calls", "batch_limit", "expected"),
    [
        (10_000, 10, None, 1_000),
        (10_000, 11, None, 1_000),  # a half-used batch pair is not worth it
        (10_000, 10, 500, 400),  # whole batches: 500 would cost 6 calls, 400 costs 4
        (450, 10, 500, 450),  # the last, ragged batch of the load
        (10_000, 10, 100, 100),
        (150, 10, None, 150),
        (10_000, 1, None, 0),  # one call cannot both look up and write
        (0, 100, None, 0),
    ],
)
def test_staged_initial_fits_the_cycle(remaining, budget_calls, batch_limit, expected):
    loaded = staged_initial(
        remaining, cost=SF_WRITES, budget_calls=budget_calls, batch_limit=batch_limit
    )
    assert loaded == expected
    assert SF_WRITES.calls_for(loaded) <= budget_calls


def simulate_initial_load(
    total: int, *, settings: BudgetSettings, limit: int, cost: LoadCost, cycles_per_day: int = 2_000
) -> list[int]:
    """Run a staged first load cycle by cycle over simulated days; return the calls per day.

    The org counts every call; the load stops for the day when the budget allows no progress.
    """
    remaining, per_day, day = total, [], 0
    while remaining > 0:
        assert day < 60, "the load never finished"
        now, spent = datetime(2026, 11, 28, tzinfo=UTC) + timedelta(days=day), 0
        for cycle in range(cycles_per_day):
            at = now + timedelta(seconds=cycle * SECONDS_PER_DAY / cycles_per_day)
            budget = plan_budget(
                settings, quota(spent, limit, at=at), now=at, spent_today_by_us=spent
            )
            n = staged_initial(
                remaining,
                cost=cost,
                budget_calls=budget.calls_allowed,
                batch_limit=settings.initial_batch_records,
            )
            if n == 0:
                break
            assert cost.calls_for(n) <= budget.calls_allowed
            spent += cost.calls_for(n)
            remaining -= n
        per_day.append(spent)
        day += 1
    return per_day


@pytest.mark.parametrize("total", [1, 199, 5_000, 48_000, 150_000, 1_000_000])
@pytest.mark.parametrize(
    ("settings", "limit", "cost"),
    [
        (BudgetSettings(initial_batch_records=1_000), 15_000, SF_WRITES),
        (
            BudgetSettings(daily_cap=1_200, per_run_share=0.25, initial_batch_records=400),
            5_000,
            SF_WRITES,
        ),
        (BudgetSettings(system="hubspot", initial_batch_records=500), 20_000, HS_WRITES),
        (BudgetSettings(daily_share=0.3, initial_batch_records=2_000), 15_000, SF_READS),
    ],
)
def test_staged_initial_load_never_exceeds_a_days_cap(total, settings, limit, cost):
    per_day = simulate_initial_load(total, settings=settings, limit=limit, cost=cost)
    cap = daily_cap(settings, quota(0, limit))
    assert all(spent <= cap for spent in per_day)
    assert all(spent >= 0.95 * cap for spent in per_day[:-1])  # each full day near its cap
    assert len(per_day) >= estimate_initial_days(total, cost=cost, daily_calls=cap)
    if cost.calls_for(total) > cap:
        assert len(per_day) > 1  # a load bigger than a day's cap is spread over days


def test_load_just_under_the_daily_max_finishes_in_a_day():
    settings = BudgetSettings(daily_share=1.0, initial_batch_records=1_000)
    need = SF_WRITES.calls_for(10_000)  # 100 calls
    assert simulate_initial_load(10_000, settings=settings, limit=need + 20, cost=SF_WRITES) == [
        need
    ]


def test_estimate_initial_days():
    assert estimate_initial_days(150_000, cost=SF_WRITES, daily_calls=750) == 2
    assert estimate_initial_days(0, cost=SF_WRITES, daily_calls=0) == 0
    with pytest.raises(ValueError):
        estimate_initial_days(10, cost=SF_WRITES, daily_calls=0)


# ---------------------------------------------------------------- adaptive polling


SCHEDULE = ScheduleSettings()
RELAXED = RunBudget("salesforce", 100, False, None, 1.0)
TIGHT = RunBudget("salesforce", 5, False, "tight", 2.5)


@pytest.mark.parametrize(
    ("last", "changes", "budget", "expected"),
    [
        (60.0, 3, None, 5.0),  # changes flow: poll fast at once
        (5.0, 0, None, 7.5),  # idle: back off
        (40.0, 0, RELAXED, 60.0),  # capped at the idle ceiling
        (60.0, 0, None, 60.0),
        (1.0, 0, None, 5.0),  # never below the floor
        (5.0, 1, TIGHT, 12.5),  # a tight budget stretches even the fast interval
        (60.0, 0, TIGHT, 150.0),
    ],
)
def test_next_poll_interval(last, changes, budget, expected):
    interval = next_poll_interval(SCHEDULE, last_interval=last, changes_seen=changes, budget=budget)
    assert interval == pytest.approx(expected)


def test_idle_polling_backs_off_geometrically_within_bounds():
    intervals, interval = [], SCHEDULE.min_interval_s
    for _ in range(12):
        interval = next_poll_interval(SCHEDULE, last_interval=interval, changes_seen=0)
        intervals.append(interval)
    assert intervals == sorted(intervals)
    assert all(SCHEDULE.min_interval_s <= i <= SCHEDULE.max_interval_s for i in intervals)
    assert intervals[-1] == SCHEDULE.max_interval_s
    assert intervals.index(SCHEDULE.max_interval_s) == 6  # 7.5, 11, 17, 25, 38, 57, 60


def poll_day(schedule: ScheduleSettings, edits: list[float]) -> tuple[int, list[float]]:
    """Poll over one day with edits at the given seconds; return (cycles, pick-up latencies)."""
    t, interval, cycles, latencies, i = 0.0, schedule.min_interval_s, 0, [], 0
    while t < SECONDS_PER_DAY:
        t += interval
        cycles += 1
        seen = 0
        while i < len(edits) and edits[i] <= t:
            latencies.append(t - edits[i])
            i, seen = i + 1, seen + 1
        interval = next_poll_interval(schedule, last_interval=interval, changes_seen=seen)
    return cycles, latencies


def test_an_idle_day_costs_under_2000_salesforce_calls():
    cycles, _ = poll_day(SCHEDULE, [])
    sf_calls = cycles * 1  # one SystemModstamp query per idle cycle
    assert sf_calls < 2_000
    assert idle_calls_per_day(SCHEDULE, calls_per_cycle=1) == 1_440
    assert sf_calls <= idle_calls_per_day(SCHEDULE, calls_per_cycle=1) + 10  # plus the ramp


def poisson(mean_gap: float, *, seed: int, until: float) -> list[float]:
    rng, t, out = random.Random(seed), 0.0, []
    while True:
        t += rng.expovariate(1 / mean_gap)
        if t >= until:
            return out
        out.append(t)


@pytest.mark.parametrize("mean_gap", [2.0, 5.0, 10.0, 20.0])
def test_p95_latency_under_30s_while_changes_flow(mean_gap):
    _, latencies = poll_day(SCHEDULE, poisson(mean_gap, seed=11, until=SECONDS_PER_DAY - 120))
    latencies.sort()
    p95 = latencies[math.ceil(0.95 * len(latencies)) - 1]
    assert p95 < 30.0


def test_an_edit_after_a_quiet_spell_waits_at_most_the_ceiling():
    edits = [3_600.0 * h + 17.0 for h in range(1, 23)]
    _, latencies = poll_day(SCHEDULE, edits)
    assert len(latencies) == len(edits)
    assert max(latencies) <= SCHEDULE.max_interval_s


def test_tightest_budget_drives_polling():
    assert tightest([RELAXED, TIGHT]) is TIGHT
    assert tightest([]) is None


# ---------------------------------------------------------------- settings


def test_settings_from_config():
    budget = Budget(salesforce_daily_share=0.3, hubspot_daily_share=0.6, per_run_share=0.2)
    hubspot = BudgetSettings.from_config(budget, system="hubspot")
    assert (hubspot.system, hubspot.daily_share, hubspot.per_run_share) == ("hubspot", 0.6, 0.2)
    assert BudgetSettings.from_config(budget, system="salesforce").daily_share == 0.3
    assert ScheduleSettings.from_config(Schedule(interval_seconds=90)).max_interval_s == 90.0
    assert ScheduleSettings.from_config(Schedule(interval_seconds=5)).min_interval_s == 5.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: BudgetSettings(daily_share=0),
        lambda: BudgetSettings(per_run_share=1.5),
        lambda: BudgetSettings(daily_cap=-1),
        lambda: ScheduleSettings(min_interval_s=10, max_interval_s=5),
        lambda: ScheduleSettings(idle_backoff=0.5),
        lambda: LoadCost(()),
    ],
)
def test_nonsense_settings_are_refused(make):
    with pytest.raises(ValueError):
        make()
