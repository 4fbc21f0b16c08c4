"""The ``[flags]`` section: where flags are stored, who may change them, and the declared flags.

The section's own keys configure the server; every sub-table ``[flags.<name>]`` declares a flag
(description, owner, default, optional ``expires`` date). A declared flag is known from the start
(a write to it needs no ``create``), and ``arborctl flags lint`` lists what is past its ``expires``.

.. code-block:: toml

    [flags]
    store = "sqlite"                 # or "memory": nothing survives a restart
    writers_group = "deploy"         # besides the daemon's uid and root, who may change flags
    ofrep = true                     # OFREP on the HTTP listener ([telemetry.prometheus] listen)

    [flags.new_checkout]
    description = "The one-page checkout"
    owner = "payments"
    default = false
    expires = 2027-03-01

>>> settings = FlagsSettings.model_validate({"store": "memory", "new_checkout": {"owner": "payments"}})
>>> settings.store, "new_checkout" in settings.declared, settings.declared["new_checkout"].default
('memory', True, False)
>>> settings.declared["use_ets_agent_registry"].default  # otp_cleanup's, declared by arbord itself
True
>>> FlagsSettings.model_validate(settings.model_dump()) == settings
True
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    field_validator,
    model_serializer,
    model_validator,
)

from daemon.flags.gates import check_flag_name
from daemon.flags.migration.components import OTP_CLEANUP_DECLARATIONS
from daemon.flags.migration.config import MigrationSettings, plan_problems
from daemon.flags.redis_config import RedisStoreSettings

__all__ = ["FlagDeclaration", "FlagsSettings"]


class FlagDeclaration(BaseModel):
    """``[flags.<name>]``: one declared flag. ``default`` is its value while it has no gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    owner: str = ""
    default: StrictBool = False
    expires: datetime.date | None = None


class FlagsSettings(BaseModel):
    """``[flags]``. ``store``: ``sqlite`` (durable, the default) or ``memory``; ``path``: the SQLite
    database (default: ``flags.db`` in the state directory); ``writers_group``: a group (name or gid)
    whose members may change flags through the control socket, besides the daemon's uid and root;
    ``ofrep``: serve OFREP on the HTTP listener (``daemon/flags/ofrep``; off by default, and the
    listener must be configured: ``[telemetry.prometheus] listen``); ``declared``: the
    ``[flags.<name>]`` sub-tables; ``probe_interval``: while a full or read-only disk keeps the
    flags read-only, seconds between two probe writes (daemon/flags/read_only.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: Literal["sqlite", "memory", "redis"] = "sqlite"
    path: Path | None = None
    writers_group: str | None = None
    ofrep: StrictBool = False
    """Serve OFREP (``/ofrep/v1/...``) on the HTTP listener ``arbord.http`` (docs/flags.md, "OFREP")."""
    probe_interval: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    """Seconds between two probe writes while the flags are read-only (docs/flags.md, "A full disk")."""
    redis: RedisStoreSettings | None = None  # [flags.redis], for store = "redis" (redis_config.py)
    declared: Mapping[str, FlagDeclaration] = Field(default_factory=dict)
    migration: MigrationSettings = Field(default_factory=MigrationSettings)
    """``[flags.migration]``: the staged migrations' plans and rollback rule (docs/migrations.md)."""

    @model_validator(mode="before")
    @classmethod
    def _sub_tables_declare_flags(cls, data: Any) -> Any:
        """``[flags.<name>]`` sub-tables are declarations: gather every table-valued key that is
        not one of the section's own into ``declared``."""
        if not isinstance(data, Mapping):
            return data
        own = set(cls.model_fields)
        declared = dict(data.get("declared") or {})
        rest: dict[str, Any] = {}
        for key, value in data.items():
            if key not in own and isinstance(value, Mapping | FlagDeclaration):
                declared[key] = value
            elif key != "declared":
                rest[key] = value
        # otp_cleanup's seven flags are declared by arbord (daemon/flags/migration/components.py),
        # under any declaration of the same name: a configuration that declares flags of its own
        # must not send the migrated components to their legacy paths by leaving them out.
        for name, declaration in OTP_CLEANUP_DECLARATIONS.items():
            declared.setdefault(name, dict(declaration))
        rest["declared"] = declared
        return rest

    @field_validator("declared")
    @classmethod
    def _flag_names(cls, value: Mapping[str, FlagDeclaration]) -> Mapping[str, FlagDeclaration]:
        for name in value:
            check_flag_name(name)
            if name in cls.model_fields:
                raise ValueError(f"a flag cannot be named {name!r}: it is a key of [flags] itself")
        return dict(sorted(value.items()))

    @model_serializer(mode="wrap")
    def _declarations_as_sub_tables(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dumped in the TOML's shape: each declared flag as a key of the section (so the dump of
        the defaults is the defaults file's ``[flags]``)."""
        data: dict[str, Any] = handler(self)
        declared = data.pop("declared", None) or {}
        data.update(declared)
        return data

    @model_validator(mode="after")
    def _plans_name_declared_flags(self) -> FlagsSettings:
        """A migration plan may name only declared flags (docs/migrations.md)."""
        problems = plan_problems(self.migration, self.declared)
        if problems:
            raise ValueError("; ".join(problems))
        return self
