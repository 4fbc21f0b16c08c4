"""Names unique to one test, so that no two tests (or two runs of one test) share a registered name.

>>> names = UniqueNames.for_test("tests/test_shop.py::test_checkout[uvloop]")
>>> names("cart")
'test_checkout-uvloop.9c294b85.cart'
>>> names.owns("test_checkout-uvloop.9c294b85.cart"), names.owns("cart")
(True, False)
>>> names.registered()  # none of them is registered yet
[]
"""

from __future__ import annotations

import hashlib
import re

from supervisor._runtime import registered_names

__all__ = ["UniqueNames"]


class UniqueNames:
    """Makes names under one prefix: ``names("cache")`` is ``prefix + "cache"``.

    Look services up by these names (``whereis(names("cache"))``), never by a global one: two tests,
    or the asyncio and uvloop runs of one test, then never meet (docs/testing.md, "A tree per test").
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @classmethod
    def for_test(cls, nodeid: str) -> UniqueNames:
        """The names of the test ``nodeid``: its readable name and a digest of the whole id."""
        readable = re.sub(r"[^A-Za-z0-9_]+", "-", nodeid.rpartition("::")[2]).strip("-")[:48]
        digest = hashlib.blake2s(nodeid.encode(), digest_size=4).hexdigest()
        return cls(f"{readable}.{digest}.")

    def __call__(self, name: str) -> str:
        return self.prefix + name

    def owns(self, name: str) -> bool:
        """Whether ``name`` is one of these names."""
        return name.startswith(self.prefix)

    def registered(self) -> list[str]:
        """These names that are registered now, sorted: what a test still holds in the registry."""
        return sorted(name for name in registered_names() if name.startswith(self.prefix))

    def __repr__(self) -> str:
        return f"UniqueNames({self.prefix!r})"
