"""Loaded by every Python process of the Nova stack (the shim dir is on PYTHONPATH)."""
import os

if os.environ.get("AMPSTACK_TUNE_SQLITE") == "1":
    import ampstack_shim

    ampstack_shim.tune_sqlite()
