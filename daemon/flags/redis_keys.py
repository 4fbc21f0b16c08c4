"""The shared store's layout in Redis: its keys, its channel, its scripts and its two small wire forms.

Everything a fleet shares lives under one prefix (``[flags.redis] prefix``, default ``arbord:flags``):

========================  =========  ====================================================================
key                       type       holds
========================  =========  ====================================================================
``<p>:revision``          string     the store-wide revision: the number of the last committed change
``<p>:state``             hash       flag → its state (JSON), the flags in force
``<p>:flag-revision``     hash       flag → the revision of its last change
``<p>:changes``           hash       revision → the change record (JSON): the audit trail
``<p>:changes:<flag>``    sorted set one flag's revisions, for its history
``<p>:nodes``             hash       daemon → its heartbeat: live until, revision applied, stale or not
``<p>:changed``           channel    one notice per committed change: ``<revision> <daemon> <flag>``
========================  =========  ====================================================================

A commit is one Lua script (``COMMIT``; ``COMMIT_SET`` for several changes as one transaction, a
migration stage move), so it is atomic: it checks the flag's state is the one the
change was made from, takes the next revision (``INCR``), writes the state, the record and the index,
and publishes the notice, all or nothing, in revision order. The notice names the writer so that a
daemon can tell its own changes from the others'.

>>> keys = RedisKeys("arbord:flags")
>>> keys.revision, keys.history("checkout"), keys.channel
('arbord:flags:revision', 'arbord:flags:changes:checkout', 'arbord:flags:changed')
>>> notice = Notice.parse(b"42 web-1:311:9f2c checkout v2")
>>> notice
Notice(revision=42, node='web-1:311:9f2c', flag='checkout v2')
>>> Notice.parse(notice.encode()) == notice
True
>>> beat = Heartbeat.parse("web-1:311:9f2c", "1764770000000 42 0")
>>> beat.revision, beat.stale, beat.live_until_ms
(42, False, 1764770000000)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["COMMIT", "COMMIT_SET", "FLEET", "HEARTBEAT", "SNAPSHOT", "Heartbeat", "Notice", "RedisKeys"]


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The keys and the channel under one prefix (module docstring)."""

    prefix: str

    @property
    def revision(self) -> str:
        return f"{self.prefix}:revision"

    @property
    def state(self) -> str:
        return f"{self.prefix}:state"

    @property
    def flag_revision(self) -> str:
        return f"{self.prefix}:flag-revision"

    @property
    def changes(self) -> str:
        return f"{self.prefix}:changes"

    def history(self, flag: str) -> str:
        return f"{self.prefix}:changes:{flag}"

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:changed"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message on the channel: change ``revision`` of ``flag``, committed by ``node``."""

    revision: int
    node: str
    flag: str

    @classmethod
    def parse(cls, data: bytes | str) -> Notice:
        """``ValueError`` on anything that is not ``<revision> <node> <flag>``."""
        text = data.decode() if isinstance(data, bytes) else data
        revision, node, flag = text.split(" ", 2)
        return cls(int(revision), node, flag)

    def encode(self) -> str:
        return f"{self.revision} {self.node} {self.flag}"


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One daemon's entry in ``<p>:nodes``: live until ``live_until_ms`` (the Redis server's clock),
    ``revision``: every change up to it has been applied; ``stale``: past its staleness budget."""

    node: str
    live_until_ms: int
    revision: int
    stale: bool

    @classmethod
    def parse(cls, node: bytes | str, data: bytes | str) -> Heartbeat:
        name = node.decode() if isinstance(node, bytes) else node
        text = data.decode() if isinstance(data, bytes) else data
        until, revision, stale = text.split(" ", 2)
        return cls(name, int(until), int(revision), stale == "1")

    def to_json(self) -> dict[str, object]:
        return {"node": self.node, "revision": self.revision, "stale": self.stale}


COMMIT: Final = """
-- KEYS: revision, state, flag-revision, changes, changes:<flag>
-- ARGV: flag, the state it was made from ('' = none), the new state ('' = deleted), the record,
--       the writer, the channel
-- Returns {revision, ''}, or {0, the flag's current state} when it is not the one the change was
-- made from (another daemon changed it first): nothing is written then.
local current = redis.call('HGET', KEYS[2], ARGV[1])
if not current then current = '' end
if current ~= ARGV[2] then
  return {0, current}
end
local revision = redis.call('INCR', KEYS[1])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
end
redis.call('HSET', KEYS[3], ARGV[1], revision)
redis.call('HSET', KEYS[4], revision, ARGV[4])
redis.call('ZADD', KEYS[5], revision, revision)
redis.call('PUBLISH', ARGV[6], revision .. ' ' .. ARGV[5] .. ' ' .. ARGV[1])
return {revision, ''}
"""

COMMIT_SET: Final = """
-- Several changes as one transaction (a migration stage move): all of them, or none.
-- KEYS: revision, state, flag-revision, changes, then changes:<flag> of each change, in order
-- ARGV: the writer, the channel, then four per change: flag, the state it was made from ('' =
--       none), the new state ('' = deleted), the record
-- Returns {revision of the last, 0, ''}, or {0, i, the flag's state} when change i (from 1) was not
-- made from the flag's state (another daemon changed it first). Redis does not undo a script that
-- fails half-way, so everything that could fail is checked before the first write: the states, and
-- the type of every key written (a key of another type would fail its write).
local n = (#ARGV - 2) / 4
local function writable(key, kind)
  local t = redis.call('TYPE', key)['ok']
  return t == 'none' or t == kind
end
for k = 2, 4 do
  if not writable(KEYS[k], 'hash') then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is not a hash: nothing was written')
  end
end
if not writable(KEYS[1], 'string') then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is not a string: nothing was written')
end
local seen = {}
for i = 1, n do
  local flag = ARGV[4 * i - 1]
  local current = seen[flag]
  if current == nil then
    current = redis.call('HGET', KEYS[2], flag) or ''
  end
  if current ~= ARGV[4 * i] then
    return {0, i, current}
  end
  seen[flag] = ARGV[4 * i + 1]
  if not writable(KEYS[4 + i], 'zset') then
    return redis.error_reply('WRONGTYPE ' .. KEYS[4 + i] .. ' is not a sorted set: nothing was written')
  end
end
local revision = 0
for i = 1, n do
  local flag = ARGV[4 * i - 1]
  revision = redis.call('INCR', KEYS[1])
  if ARGV[4 * i + 1] == '' then
    redis.call('HDEL', KEYS[2], flag)
  else
    redis.call('HSET', KEYS[2], flag, ARGV[4 * i + 1])
  end
  redis.call('HSET', KEYS[3], flag, revision)
  redis.call('HSET', KEYS[4], revision, ARGV[4 * i + 2])
  redis.call('ZADD', KEYS[4 + i], revision, revision)
end
local first = revision - n + 1
for i = 1, n do
  redis.call('PUBLISH', ARGV[2], (first + i - 1) .. ' ' .. ARGV[1] .. ' ' .. ARGV[4 * i - 1])
end
return {revision, 0, ''}
"""

SNAPSHOT: Final = """
-- KEYS: revision, state, flag-revision. One consistent read of the flags in force.
return {redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2]),
        redis.call('HGETALL', KEYS[3])}
"""

HEARTBEAT: Final = """
-- KEYS: nodes, revision. ARGV: the daemon, its applied revision, its TTL in ms, stale ('0'/'1').
-- Writes the daemon's entry, live until now + TTL on the server's clock; returns the store's revision.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1],
           string.format('%d %s %s', now + tonumber(ARGV[3]), ARGV[2], ARGV[4]))
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""

FLEET: Final = """
-- KEYS: nodes, revision. The live daemons' entries (the expired ones are removed) and the store's
-- revision: {revision, {daemon, entry, ...}}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local until_ms = tonumber(string.match(all[i + 1], '^(%d+)'))
  if until_ms == nil or until_ms < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    live[#live + 1] = all[i]
    live[#live + 1] = all[i + 1]
  end
end
return {tonumber(redis.call('GET', KEYS[2]) or '0'), live}
"""
