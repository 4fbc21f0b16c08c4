"""The Sampler (docs/otp-conformance.md#sampling): which events of a prefix go out, by one of six strategies.

A strategy is written as text, the same in ``[telemetry.sampling]``, in ``arborctl telemetry
sampling set`` and in the ``telemetry.sampling.set`` verb:

==========================  ===================================================================
``always``                  every event (the default; such events carry no ``sampled`` key)
``never``                   no event
``random(rate)``            each event with probability ``rate`` in [0, 1]
``rate_limited(n)``         at most ``n`` events per one-second window (a fixed window)
``adaptive(target, every)`` each event with probability ``p``; every ``every`` seconds ``p`` is
                            multiplied by 0.9 if more than ``target`` events/s went out, else by
                            1.1 (capped at 1), as Foundation's factors
``reservoir(k)``            within each one-second window, the n-th event with probability
                            ``min(1, k/n)`` (the acceptance rule of reservoir sampling, without
                            holding events back: the first ``k`` always go out)
==========================  ===================================================================

>>> parse_strategy("random(0.25)")
Strategy(kind='random', args=(0.25,))
>>> parse_strategy("adaptive(1000, 5)").text
'adaptive(1000, 5)'
>>> parse_strategy("random(1.5)")
Traceback (most recent call last):
...
ValueError: sampling strategy 'random(1.5)': the rate must be a number in [0, 1], got 1.5
>>> parse_prefix("myapp.db")
('myapp', 'db')

A strategy applies to every event whose name starts with its prefix (the longest configured prefix
wins; ``""`` is the prefix of every event). Each configured prefix has one ``Decider``, shared by
the events under it: ``rate_limited(100)`` on ``myapp`` is 100 events/s for all of ``myapp.*``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "STRATEGIES",
    "Decider",
    "Strategy",
    "format_prefix",
    "make_decider",
    "parse_prefix",
    "parse_strategy",
]

STRATEGIES: Final = ("always", "never", "random", "rate_limited", "adaptive", "reservoir")
"""The strategies' names, with their arities: ``_ARITY``."""

_ARITY: Final = {"always": 0, "never": 0, "random": 1, "rate_limited": 1, "adaptive": 2, "reservoir": 1}
_SYNTAX: Final = re.compile(r"^\s*([a-z_]+)\s*(?:\(([^()]*)\))?\s*$")
_ADJUST_UP: Final = 1.1
_ADJUST_DOWN: Final = 0.9


@dataclass(frozen=True, slots=True)
class Strategy:
    """A parsed strategy: its kind (one of ``STRATEGIES``) and its numbers."""

    kind: str
    args: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        """The strategy as written: ``parse_strategy(s.text) == s``."""
        if not self.args:
            return self.kind
        return f"{self.kind}({', '.join(_number(a) for a in self.args)})"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def parse_strategy(text: object) -> Strategy:
    """The ``Strategy`` written as ``text``; ``TypeError``/``ValueError`` naming it if it is not one."""
    if not isinstance(text, str):
        raise TypeError(f"a sampling strategy must be a string such as 'random(0.1)', got {text!r}")
    match = _SYNTAX.match(text)
    if match is None or match.group(1) not in _ARITY:
        raise ValueError(f"unknown sampling strategy {text!r}: expected one of {', '.join(STRATEGIES)}")
    kind, inside = match.group(1), match.group(2)
    parts = [p.strip() for p in inside.split(",")] if inside is not None and inside.strip() else []
    if len(parts) != _ARITY[kind]:
        raise ValueError(
            f"sampling strategy {text!r}: {kind} takes {_ARITY[kind]} number(s), got {len(parts)}"
        )
    try:
        args = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"sampling strategy {text!r}: its arguments must be numbers") from None
    _check(text, kind, args)
    return Strategy(kind, args)


def _check(text: str, kind: str, args: tuple[float, ...]) -> None:
    if any(not math.isfinite(a) for a in args):
        raise ValueError(f"sampling strategy {text!r}: its numbers must be finite")
    if kind == "random" and not 0.0 <= args[0] <= 1.0:
        raise ValueError(f"sampling strategy {text!r}: the rate must be a number in [0, 1], got {args[0]:g}")
    if kind in ("rate_limited", "reservoir") and args[0] <= 0:
        raise ValueError(f"sampling strategy {text!r}: {kind} needs a positive number, got {args[0]:g}")
    if kind == "adaptive" and (args[0] <= 0 or args[1] <= 0):
        raise ValueError(f"sampling strategy {text!r}: adaptive needs a positive target and interval")


def parse_prefix(text: object) -> tuple[str, ...]:
    """An event prefix written with dots (``"myapp.db"``; ``""`` is every event)."""
    if not isinstance(text, str):
        raise TypeError(f"an event prefix must be a dotted string such as 'myapp.db', got {text!r}")
    if text == "":
        return ()
    parts = tuple(text.split("."))
    if any(not p for p in parts):
        raise ValueError(f"event prefix {text!r} has an empty part")
    return parts


def format_prefix(prefix: tuple[str, ...]) -> str:
    """The dotted form of ``prefix`` (``parse_prefix``'s inverse)."""
    return ".".join(prefix)


class Decider:
    """The state of one configured prefix's strategy: ``keep(now)`` says whether an event goes out.

    ``now`` is the telemetry server's monotonic clock, in seconds. One decider per configured
    prefix, called from emitters' tasks on the daemon's loop (no locking: no await inside).
    """

    __slots__ = ("_count", "_kept", "_p", "_random", "_window", "strategy")

    def __init__(self, strategy: Strategy, rng: Callable[[], float]) -> None:
        self.strategy = strategy
        self._random = rng
        self._window = -math.inf  # start of the current window (rate_limited, adaptive, reservoir)
        self._count = 0  # events seen in the window
        self._kept = 0  # events kept in the window
        self._p = 1.0  # adaptive's probability

    def keep(self, now: float) -> bool:
        """Whether the event seen at ``now`` goes out (and the decider's state moves on)."""
        kind, args = self.strategy.kind, self.strategy.args
        if kind == "never":
            return False
        if kind == "random":
            return self._random() < args[0]
        if kind == "adaptive":
            return self._adaptive(now, args[0], args[1])
        if now - self._window >= 1.0:
            self._window, self._count, self._kept = now, 0, 0
        self._count += 1
        if kind == "rate_limited":
            if self._kept < args[0]:
                self._kept += 1
                return True
            return False
        # reservoir: the n-th event of the window with probability k/n
        if self._count <= args[0] or self._random() < args[0] / self._count:
            self._kept += 1
            return True
        return False

    def _adaptive(self, now: float, target: float, every: float) -> bool:
        if self._window == -math.inf:
            self._window = now
        elif now - self._window >= every:
            rate = self._kept / (now - self._window)
            self._p = self._p * _ADJUST_DOWN if rate > target else min(1.0, self._p * _ADJUST_UP)
            self._window, self._kept = now, 0
        if self._p >= 1.0 or self._random() < self._p:
            self._kept += 1
            return True
        return False

    @property
    def probability(self) -> float:
        """adaptive's current probability (1.0 for the other strategies)."""
        return self._p


def make_decider(strategy: Strategy, seed: int | None = None) -> Decider | None:
    """The decider of ``strategy``; None for ``always`` (the hot path's "no decision to make")."""
    if strategy.kind == "always":
        return None
    return Decider(strategy, random.Random(seed).random)
