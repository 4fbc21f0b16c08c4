"""Types of the C extension ``daemon.flags._speedups`` (daemon/flags/_speedups.c).

Its pure-Python twin is ``daemon.flags.server._evaluator`` (and ``daemon.flags.bucket.normalized``);
``daemon.flags.fastpath`` picks one.
"""

from collections.abc import Callable
from typing import Any, Self, final

def normalized(group_id: str, actor: str, /) -> int: ...

@final
class Evaluator:
    """``Evaluator(rows, unknown, slow, bucket_into)``: called as ``enabled(flag, actor=None)``."""

    def __new__(
        cls,
        rows: dict[Any, Any],
        unknown: Callable[[str], bool],
        slow: Callable[..., bool],
        bucket_into: Callable[[tuple[str, float, dict[str, int]], str], int],
    ) -> Self: ...
    def __call__(self, flag: str, actor: Any = None) -> bool: ...
