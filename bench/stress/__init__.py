"""Load and soak against the real daemon (`make stress`, `make soak`): the reliability matrix's tiers.

The daemon runs as a subprocess on a Unix socket; load reaches it two ways. Telemetry events and
spans are made inside the daemon, by a user server configured under ``[servers.stress]``
(``load_server``), which also counts what came out the other end. Control clients, cache operations
and flag writes come over the control socket from load processes of their own (``clients`` over
``wire``), pinned to another CPU than the daemon's (``run``). ``judge`` turns what was measured into
one verdict per tier, ``slopes`` judges a soak's time series for leaks, ``report`` prints them,
``plot`` draws the soak. ``tiers`` holds the matrix's rates and criteria. docs/testing.md, "Load and
soak", is the guide; docs/performance.md has the figures of a full run.
"""
