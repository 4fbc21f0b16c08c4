"""``arborctl diagnose [PATH]``: one archive with what an operator (or a bug report) needs.

    arborctl diagnose                      # ./arbord-diagnose-20261203T141500Z.tar.gz
    arborctl diagnose /tmp/incident.tar.gz

The bundle is made on this side from the daemon's ordinary verbs (``PARTS``: version, status, tree,
metrics, the newest crashes, the newest flag changes, the spans in flight, the configuration in
force), so the daemon needs no verb of its own for it and arborctl stays a thin client. Each part is
one JSON file in a gzipped tar, next to ``index.json``, which says for every part whether it was
collected (its file and size), cut (``truncated``: the items kept of how many), or not (the error's
code and message). A part that fails is recorded there and the others are still collected: a daemon
that stops answering half-way still leaves what was collected, and a daemon that is not running at
all still leaves an archive with this side's facts (``client``) and the reason.

It stays bounded: every list part asks for one page of a fixed size (the newest crashes and flag
changes, the oldest spans), and each part is cut to ``PART_BYTES`` of JSON (a list keeps its first
items that fit), so the archive holds at most ``len(PARTS)`` times that before compression.

Secrets never leave: every part goes through ``daemon.masking.mask`` first (the daemon's
``config.show`` masks too), so a password, token or key in the configuration reads ``[redacted]``.
"""

from __future__ import annotations

import io
import json
import os
import platform
import sys
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from daemon.ctl.frames import ControlReplyError
from daemon.ctl.wire import BlockingClient
from daemon.masking import EXTRA_SECRET_WORDS, mask

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "EXTRA_SECRET_WORDS",
    "PARTS",
    "PART_BYTES",
    "Bundle",
    "Part",
    "collect",
    "default_path",
    "mask",
    "write_bundle",
]


@dataclass(frozen=True, slots=True)
class Part:
    """One file of the bundle: the verb that fills it and the params that keep it one page."""

    name: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)


PARTS: Final = (
    Part("version", "version"),
    Part("status", "status"),
    Part("tree", "tree", {"limit": 1000}),
    Part("metrics", "metrics"),
    Part("crashes", "crashes", {"limit": 50}),
    Part("flags-history", "flags.history", {"limit": 200}),
    Part("spans", "spans.list", {"limit": 1000}),
    Part("config", "config.show"),
)
"""What ``arborctl diagnose`` collects, in this order (``client`` comes first, made on this side)."""

PART_BYTES: Final = 4 * 1024 * 1024
"""The most JSON one part may hold; a longer list keeps the items that fit, anything else is left out."""


def _fit(result: Any, budget: int) -> tuple[bytes, dict[str, Any]] | None:
    """``result`` as JSON of at most ``budget`` bytes, and what was cut: a list (or a mapping's
    ``items``/``spans``/``records`` list) keeps the items that fit; None when nothing can be cut."""
    data = json.dumps(result, indent=1).encode()
    if len(data) <= budget:
        return data, {}
    key = None
    if isinstance(result, Mapping):
        key = next(
            (k for k in ("items", "spans", "records", "children") if isinstance(result.get(k), list)), None
        )
    items = result if isinstance(result, list) else result[key] if key is not None else None
    if items is None:
        return None
    kept: list[Any] = []
    used = 64 + (0 if key is None else len(json.dumps({k: v for k, v in result.items() if k != key})))
    for item in items:
        used += len(json.dumps(item, indent=1)) + 2
        if used > budget:
            break
        kept.append(item)
    cut: Any = kept if key is None else {**result, key: kept}
    return json.dumps(cut, indent=1).encode(), {
        "truncated": True,
        "items_kept": len(kept),
        "items_total": len(items),
    }


def _error(error: BaseException) -> dict[str, str]:
    if isinstance(error, ControlReplyError):
        return {"code": error.code, "message": error.message}
    if isinstance(error, TimeoutError):
        return {"code": "timeout", "message": "no reply in time"}
    if isinstance(error, (FileNotFoundError, ConnectionRefusedError)):
        return {"code": "not_running", "message": f"arbord is not running ({error})"}
    return {"code": type(error).__name__, "message": str(error)[:500]}


@dataclass
class Bundle:
    """What was collected: each part's JSON (masked, cut to size) and the index that describes them."""

    files: dict[str, bytes] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """The parts that could not be collected."""
        return [name for name, entry in self.index["parts"].items() if not entry["ok"]]


def _client_facts(socket: str) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        arbord = version("arbord")
    except PackageNotFoundError:
        arbord = None
    return {
        "arborctl": arbord,
        "python": sys.version,
        "platform": platform.platform(),
        "socket": socket,
        "argv": sys.argv,
    }


def collect(
    connect: Callable[[], BlockingClient],
    *,
    socket: str,
    parts: tuple[Part, ...] = PARTS,
    part_bytes: int = PART_BYTES,
) -> Bundle:
    """Collect ``parts`` through connections ``connect`` opens: one for all of them, or a new one
    after a part whose failure leaves the connection unusable (a timeout, the daemon going away)."""
    bundle = Bundle(index={"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "parts": {}})
    client: BlockingClient | None = None

    def add(name: str, result: Any) -> None:
        fitted = _fit(mask(result), part_bytes)
        if fitted is None:
            bundle.index["parts"][name] = {
                "ok": False,
                "error": {"code": "too_large", "message": f"more than {part_bytes} bytes of JSON"},
            }
            return
        data, cut = fitted
        bundle.files[f"{name}.json"] = data
        bundle.index["parts"][name] = {"ok": True, "file": f"{name}.json", "bytes": len(data), **cut}

    add("client", _client_facts(socket))
    try:
        for part in parts:
            try:
                if client is None:
                    client = connect()
                result = client.call(part.method, part.params)
            except ControlReplyError as error:  # an answer: the connection is still good
                bundle.index["parts"][part.name] = {
                    "ok": False,
                    "method": part.method,
                    "error": _error(error),
                }
                continue
            except (OSError, ValueError) as error:  # TimeoutError and ConnectionError are OSErrors
                bundle.index["parts"][part.name] = {
                    "ok": False,
                    "method": part.method,
                    "error": _error(error),
                }
                if client is not None:
                    client.close()
                    client = None
                continue
            add(part.name, result)
            bundle.index["parts"][part.name]["method"] = part.method
    finally:
        if client is not None:
            client.close()
    return bundle


def default_path(cwd: Path, now: float | None = None) -> Path:
    """``arbord-diagnose-<UTC time>.tar.gz`` in ``cwd``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return cwd / f"arbord-diagnose-{stamp}.tar.gz"


def write_bundle(bundle: Bundle, path: Path) -> None:
    """Write ``bundle`` as a gzipped tar: ``<stem>/index.json`` then each part's file, mode 0600
    (it describes the daemon's internals), through a temporary name so a reader never sees half."""
    stem = path.name.removesuffix(".tar.gz").removesuffix(".tgz") or "arbord-diagnose"
    partial = path.with_name(f".{path.name}.partial")
    members = {"index.json": json.dumps(bundle.index, indent=1).encode(), **bundle.files}
    mtime = time.time()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{stem}/{name}")
            info.size = len(data)
            info.mtime = int(mtime)
            info.mode = 0o600
            archive.addfile(info, io.BytesIO(data))
    partial.replace(path)
