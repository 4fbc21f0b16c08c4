"""``core_methods()``: every control method the daemon has whatever its servers (the registry, the
caches and later servers add their own groups; the tree assembly merges them with ``methods_by_name``)."""

from __future__ import annotations

from daemon.control.methods import Method
from daemon.control.methods_daemon import daemon_methods
from daemon.control.methods_tables import table_methods
from daemon.control.methods_tree import tree_methods

__all__ = ["core_methods"]


def core_methods() -> tuple[Method, ...]:
    """hello, version, ping, status, reload, config.*, shutdown, the tree methods and tables.*."""
    return (*daemon_methods(), *tree_methods(), *table_methods())
