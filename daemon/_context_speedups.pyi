"""Types of the C extension ``daemon._context_speedups`` (daemon/_context_speedups.c).

Its pure-Python twin is the Python code of ``daemon.context`` (``_PyContextBlock``,
``_py_capture_carried``, ``_py_enter_carried``, ``_py_exit_carried``) and ``daemon.spans.api``
(``_start_span``, ``_end_span``); ``daemon.context_core`` picks one.
"""

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from typing_extensions import disjoint_base

def configure_context(
    *,
    error_var: ContextVar[Any],
    span_var: ContextVar[Any],
    context_type: type,
    meta_type: type,
    policy_type: type,
    merged: Callable[[Any, Mapping[str, object]], Any],
    attach: Callable[[BaseException | None, Any], None],
    root: Any,
) -> None: ...
def configure_spans(
    *,
    ref_type: type,
    live_type: type,
    server_type: type,
    lookup: Callable[[str], Any],
    server_name: str,
    active: Mapping[Any, object],
    start_event: tuple[str, ...],
    stop_event: tuple[str, ...],
    getrandbits: Callable[[int], int],
    running_loop: Callable[[], Any],
    tasks: dict[Any, Any] | None,
    current_task: Callable[[], Any],
    time_ns: Callable[[], int],
    perf_counter_ns: Callable[[], int],
    slow_start: Callable[..., Any],
    slow_end: Callable[..., bool],
    emit_start: Callable[[Any], None],
    stop: Callable[..., None],
) -> None: ...
def capture_carried() -> tuple[Any, Any] | None: ...
def enter_carried(carried: tuple[Any, Any], /) -> Any: ...
def exit_carried(token: Any, /) -> None: ...
def fast_calls(cls: type[ContextBlock], /) -> None: ...
def start_span(name: str, attributes: Mapping[str, object] | None = None) -> Any: ...
def end_span(
    ref: Any = None,
    status: str = "ok",
    *,
    error: BaseException | str | None = None,
    attributes: Mapping[str, object] | None = None,
) -> bool: ...

@disjoint_base
class ContextBlock:
    """``ContextBlock(**fields)``: the C base of ``daemon.context.with_context`` (enter and exit)."""

    @property
    def _fields(self) -> dict[str, object]: ...
    def __new__(cls, **fields: object) -> ContextBlock: ...
    def __enter__(self) -> Any: ...
    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...
