"""Retrying transient failures: exponential backoff with jitter, honouring the server's Retry-After.

The schedule is a pure function so it can be tested without sleeping; `call_with_retry` runs a call
under a policy with an injectable sleep, and reports each failed attempt to an optional observer
(the engine logs them as `transient` errors).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sync_engine.errors import ApiLimitError, RetriableError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries; waits grow from `base` by `factor` up to `cap` seconds."""

    attempts: int = 5
    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 60.0


def backoff(policy: RetryPolicy, attempt: int, *, retry_after: float | None, rand: float) -> float:
    """Seconds to wait before try number attempt+1 (attempt counts from 1).

    A server's Retry-After wins when it is longer than our own backoff, bounded by
    max_retry_after so one bad header cannot stall a cycle for a day.
    """
    own = min(policy.cap, policy.base * policy.factor ** (attempt - 1))
    own *= 1 + policy.jitter * (2 * rand - 1)
    if retry_after is not None:
        return max(own, min(retry_after, policy.max_retry_after))
    return own


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[RetriableError, int, float], None] | None = None,
    rng: random.Random | None = None,
) -> T:
    """Call fn, retrying RetriableError under policy; re-raise the last error when tries run out.

    A daily API limit (ApiLimitError with a wait beyond max_retry_after) is not retried here: the
    budget guard pauses writes instead of holding a cycle open until midnight.
    """
    rng = rng or random.Random()
    attempt = 1
    while True:
        try:
            return fn()
        except RetriableError as exc:
            wait_asked = exc.retry_after or 0
            daily = isinstance(exc, ApiLimitError) and wait_asked > policy.max_retry_after
            if attempt >= policy.attempts or daily:
                raise
            wait = backoff(policy, attempt, retry_after=exc.retry_after, rand=rng.random())
            if on_retry is not None:
                on_retry(exc, attempt, wait)
            sleep(wait)
            attempt += 1
