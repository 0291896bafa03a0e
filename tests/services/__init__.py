"""Real services started by the functional tests (never shipped in the wheel).

Each module starts one service on loopback (or inside network namespaces the
test made), stops exactly the processes it started (by process group), and
leaves nothing running.  ``_proc`` holds what they all share.
"""
