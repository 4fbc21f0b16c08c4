"""``[flags.redis]``: the shared store's settings, read when ``[flags] store = "redis"``.

Several daemons that name the same Redis server and ``prefix`` share their flags: each write is
committed there with a store-wide revision and announced on a channel; each daemon heartbeats the
revision it has applied, which ``arborctl flags wait --revision N`` reads (``docs/flags.md``, "Shared
store (Redis)").

.. code-block:: toml

    [flags]
    store = "redis"

    [flags.redis]
    url = "redis://127.0.0.1:6379/0"   # or unix:///run/redis/redis.sock, rediss://... for TLS
    prefix = "arbord:flags"            # the keys and the channel: one fleet per prefix
    heartbeat = 1.0                    # seconds between heartbeats (a daemon is live for 3 of them)
    stale_after = 5.0                  # seconds out of touch before the daemon reports itself stale
    timeout = 2.0                      # seconds for one command (connect, commit, read)

>>> RedisStoreSettings().prefix, RedisStoreSettings().node_ttl
('arbord:flags', 3.0)
>>> RedisStoreSettings(url="unix:///run/redis.sock").location
'unix:///run/redis.sock'
>>> RedisStoreSettings(url="redis://app:secret@cache:6379/2").location
'redis://cache:6379/2'
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["RedisStoreSettings"]


class RedisStoreSettings(BaseModel):
    """``[flags.redis]`` (module docstring). ``url``: the server, as redis-py reads it (``redis://``,
    ``rediss://``, ``unix://``); ``prefix``: the keys' and the channel's prefix; ``heartbeat``: seconds
    between a daemon's heartbeats; ``stale_after``: the staleness budget; ``timeout``: one command's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = Field(default="arbord:flags", min_length=1, max_length=200)
    heartbeat: float = Field(default=1.0, gt=0, le=3600)
    stale_after: float = Field(default=5.0, gt=0, le=86400)
    timeout: float = Field(default=2.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"a Redis URL starts with redis://, rediss:// or unix://, not {value!r}")
        return value

    @field_validator("prefix")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError(f"the prefix has no white space: {value!r}")
        return value

    @property
    def node_ttl(self) -> float:
        """How long a heartbeat keeps a daemon live: three heartbeats."""
        return 3 * self.heartbeat

    @property
    def location(self) -> str:
        """The URL without its credentials: what logs and ``status`` show."""
        parts = urlsplit(self.url)
        if parts.password is None and parts.username is None:
            return self.url
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
