"""The legacy paths of arbord's migrated components: what a hidden-state design looks like in Python.

Foundation's cleanup kept the process-dictionary path of every component it migrated beside the
supervised one, so that production could move stage by stage and roll back (docs/migrations.md).
arbord keeps the same pairs, and these modules are the legacy half: module-global dicts (a registry
dict, per-task dicts for error context and span stacks, dedup and batch dicts for sampled events)
of the kind an application migrating to arbord starts from. They are here on purpose and nowhere
else: this package is the hidden-state check's one allow-list entry for legacy code, and each of its
modules says so at its top. Nothing outside a component's switched interface imports them; which
path serves a call is chosen per call by ``daemon.flags.migration.backend.use_supervised``.
"""
