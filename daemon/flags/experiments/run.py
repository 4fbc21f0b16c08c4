"""Experiments: run a candidate beside the code in force, answer with the code in force, count how often
the two agree (GitHub's Scientist, for a migration from one backend to another).

``experiment(name, control, candidate)`` calls ``control()`` and returns what it returns, or raises
what it raises: the caller sees the control, and only the control. On ``percent`` % of the calls it
also runs ``candidate()`` and compares the two outcomes with ``compare`` (``operator.eq``):

- **match**: both returned equal values, or both raised exceptions of the same type and arguments;
- **mismatch**: the values differ, or one side raised and the other did not (the first
  ``MISMATCHES_KEPT`` are recorded with both sides, every one is counted);
- **error**: the candidate raised where the control returned, or ``compare`` raised;
- **timeout**: the candidate took longer than ``timeout`` seconds (its answer is not compared).

The candidate's exception and its slowness never reach the caller:

>>> experiment("doc.sum", lambda: sum([1, 2, 3]), lambda: 6)
6
>>> experiment("doc.broken", lambda: 1, lambda: 1 // 0)
1

**Sync or async.** When ``control()`` returns an awaitable, ``experiment`` returns a coroutine (``await
experiment(...)``); so a synchronous control must not return an awaitable value itself (an
``asyncio.Task`` it looked up, say): compare something that identifies it instead. In the async form the
candidate runs *concurrently*, in a task of its own started beside the control, bounded by
``asyncio.timeout(timeout)``; the caller gets the control's outcome as soon as the control is done,
never waiting for the candidate, and the comparison is counted when the candidate finishes (or times
out). A synchronous candidate cannot be interrupted, so it runs *after* the control, in the caller, and
its time is measured: one that overran ``timeout`` counts as a timeout and is not compared. A thread
would bound it, but would run code written for one thread (and tables that check their caller)
concurrently with the caller: so use the synchronous form for fast in-memory paths, ``percent`` to bound
its cost, and the async form for anything that waits.

**Counts.** Each outcome is written into the tables of the experiments server ``arbord.experiments``
(``daemon.flags.experiments.table``), never through its mailbox: from the caller's task, or, for an
async candidate still running when the control is done, from the candidate task's done callback. They
hold the counts, the last ``SAMPLES`` timings of both sides and the recorded mismatches;
``arborctl migration experiments`` shows them. Without that server (a plain program) nothing is
counted, and each outcome is still emitted as a telemetry event, ``("arbord", "experiment",
outcome)`` with measurements ``control_duration`` and ``candidate_duration`` (integer nanoseconds) and
metadata ``name``, ``counted`` and, for a mismatch, ``control`` and ``candidate``, for an error,
``error`` and ``where``. Call it from the event loop's thread: the tables are not shared with others.

docs/migrations.md ("Experiments") is the guide.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import operator
import random
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final, NamedTuple, TypeGuard, TypeVar, cast

from daemon.flags.experiments.table import Outcome, bounded_repr, record_outcome
from supervisor import telemetry

__all__ = [
    "DEFAULT_TIMEOUT",
    "ERROR",
    "MATCH",
    "MISMATCH",
    "TIMEOUT",
    "Observation",
    "experiment",
    "judge",
]

T = TypeVar("T")

MATCH: Final = ("arbord", "experiment", "match")
MISMATCH: Final = ("arbord", "experiment", "mismatch")
ERROR: Final = ("arbord", "experiment", "error")
TIMEOUT: Final = ("arbord", "experiment", "timeout")
_EVENTS: Final = {"match": MATCH, "mismatch": MISMATCH, "error": ERROR, "timeout": TIMEOUT}

_NUMBERS: Final = (int, float)

DEFAULT_TIMEOUT: Final = 1.0
"""Seconds a candidate may take before its run counts as a timeout."""


class Observation(NamedTuple):
    """What one side did: returned ``value`` or raised ``error``, in ``duration_ns``; ``timed_out``
    (the candidate only): it overran the timeout and ``value`` means nothing. A named tuple: built
    twice per sampled call, and a frozen dataclass costs several times more to build."""

    value: Any = None
    error: BaseException | None = None
    duration_ns: int = 0
    timed_out: bool = False

    def shown(self) -> str:
        """The side as a recorded mismatch shows it: ``repr`` of the value, or ``raised ...``."""
        return bounded_repr(self.value) if self.error is None else f"raised {bounded_repr(self.error)}"


def judge(
    control: Observation, candidate: Observation, compare: Callable[[Any, Any], object]
) -> tuple[Outcome, BaseException | None]:
    """The outcome of one run, and the error behind an ``"error"`` (the candidate's or ``compare``'s).

    >>> judge(Observation(1), Observation(1), operator.eq)
    ('match', None)
    >>> judge(Observation(error=KeyError("k")), Observation(error=KeyError("k")), operator.eq)
    ('match', None)
    >>> judge(Observation(1), Observation(error=KeyError("k")), operator.eq)
    ('error', KeyError('k'))
    >>> judge(Observation(error=KeyError("k")), Observation(None), operator.eq)
    ('mismatch', None)
    """
    if candidate.timed_out:
        return "timeout", None
    if control.error is not None or candidate.error is not None:
        if control.error is None:
            return "error", candidate.error
        same = (
            candidate.error is not None
            and type(control.error) is type(candidate.error)
            and control.error.args == candidate.error.args
        )
        return ("match" if same else "mismatch"), None
    try:
        equal = bool(compare(control.value, candidate.value))
    except Exception as error:
        return "error", error
    return ("match" if equal else "mismatch"), None


def _report(
    name: str, compare: Callable[[Any, Any], object], control: Observation, candidate: Observation
) -> None:
    """Judge one run, count it (caller's task, owned tables), emit its event. Never raises."""
    outcome, error = judge(control, candidate, compare)
    shown = (lambda: (control.shown(), candidate.shown())) if outcome == "mismatch" else None
    counted = record_outcome(name, outcome, control.duration_ns, candidate.duration_ns, shown)
    metadata: dict[str, object] = {"name": name, "counted": counted}
    if outcome == "mismatch":
        metadata["control"] = control.error if control.error is not None else control.value
        metadata["candidate"] = candidate.error if candidate.error is not None else candidate.value
    elif outcome == "error":
        metadata["error"] = error
        metadata["where"] = "candidate" if error is candidate.error else "compare"
    telemetry.execute(
        _EVENTS[outcome],
        {"control_duration": control.duration_ns, "candidate_duration": candidate.duration_ns},
        metadata,
    )


def _check(name: object, percent: object, timeout: object) -> None:
    usual = type(name) is str and name and type(percent) in _NUMBERS and type(timeout) in _NUMBERS
    if usual and 0 <= percent <= 100 and 0 < timeout < math.inf:  # type: ignore[operator]
        return  # the usual case, in a few operations
    if not isinstance(name, str) or not name:
        raise TypeError(f"an experiment's name is a non-empty str, not {name!r}")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise ValueError(f"percent is a number from 0 to 100, not {percent!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < math.inf:
        raise ValueError(f"timeout is a number of seconds > 0, not {timeout!r}")


def _awaitable(value: object) -> TypeGuard[Awaitable[Any]]:
    """Whether ``value`` can be awaited: a coroutine, a future, a task, anything with ``__await__``
    (what ``inspect.isawaitable`` says since 3.11 removed generator-based coroutines, in one lookup)."""
    return hasattr(type(value), "__await__")


def experiment(
    name: str,
    control: Callable[[], T],
    candidate: Callable[[], object],
    *,
    compare: Callable[[Any, Any], object] = operator.eq,
    percent: float = 100,
    timeout: float = DEFAULT_TIMEOUT,
) -> T:
    """Run ``control`` (and, on ``percent`` % of calls, ``candidate``); return or raise as the control
    did. When ``control()`` returns an awaitable, so does this: ``await experiment(...)``. The module
    docstring says what is counted and where."""
    _check(name, percent, timeout)
    if percent < 100 and (percent <= 0 or random.random() * 100 >= percent):
        return control()
    started = time.perf_counter_ns()
    try:
        result = control()
    except Exception as error:
        _report(
            name,
            compare,
            Observation(error=error, duration_ns=time.perf_counter_ns() - started),
            _observe_sync(candidate, timeout),
        )
        raise
    if _awaitable(result):
        return cast(T, _run_async(name, result, candidate, compare, timeout))
    seen = Observation(result, duration_ns=time.perf_counter_ns() - started)
    _report(name, compare, seen, _observe_sync(candidate, timeout))
    return result


def _observe_sync(candidate: Callable[[], object], timeout: float) -> Observation:
    """Run a candidate of a synchronous control in the caller, after it; an overrun is a timeout."""
    started = time.perf_counter_ns()
    try:
        value = candidate()
    except Exception as error:
        return Observation(error=error, duration_ns=time.perf_counter_ns() - started)
    duration = time.perf_counter_ns() - started
    if _awaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited: close it rather than leak a warning
        wrong = TypeError("the candidate returned an awaitable, the control did not")
        return Observation(error=wrong, duration_ns=duration)
    return Observation(value, duration_ns=duration, timed_out=duration > timeout * 1e9)


async def _observe_async(candidate: Callable[[], object], timeout: float) -> Observation:
    """Run a candidate in its own task within ``timeout``; whatever it does becomes an observation.

    The timeout's timer handle, held by the event loop, references this task: the task stays alive
    while it runs although nobody else holds it (asyncio keeps only weak references to tasks)."""
    started = time.perf_counter_ns()
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            value = candidate()
            if _awaitable(value):
                value = await value
    except TimeoutError as error:
        duration = time.perf_counter_ns() - started
        if deadline.expired():
            return Observation(duration_ns=duration, timed_out=True)
        return Observation(error=error, duration_ns=duration)
    except Exception as error:
        return Observation(error=error, duration_ns=time.perf_counter_ns() - started)
    return Observation(value, duration_ns=time.perf_counter_ns() - started)


async def _run_async(
    name: str,
    control: Awaitable[Any],
    candidate: Callable[[], object],
    compare: Callable[[Any, Any], object],
    timeout: float,
) -> Any:
    trial = asyncio.get_running_loop().create_task(
        _observe_async(candidate, timeout), name=f"arbord.experiment {name}"
    )
    started = time.perf_counter_ns()
    try:
        value = await control
    except Exception as error:
        _when_done(
            trial,
            partial(
                _report, name, compare, Observation(error=error, duration_ns=time.perf_counter_ns() - started)
            ),
        )
        raise
    except BaseException:  # cancelled (or worse): the candidate goes with the caller, uncounted
        trial.cancel()
        raise
    _when_done(
        trial,
        partial(_report, name, compare, Observation(value, duration_ns=time.perf_counter_ns() - started)),
    )
    return value


def _when_done(trial: asyncio.Task[Observation], report: Callable[[Observation], None]) -> None:
    """Report the run now if the candidate is done, else when it is (the caller does not wait)."""

    def finished(task: asyncio.Task[Observation]) -> None:
        if not task.cancelled() and task.exception() is None:
            report(task.result())

    if trial.done():
        finished(trial)
    else:
        trial.add_done_callback(finished)
