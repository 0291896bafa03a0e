"""The built-in hardware profiles: one TOML data file per device family.

This package holds data only.  ``profile_files()`` lists its ``*.toml`` files
through ``importlib.resources`` (so it works from a wheel or a zip); the
hardware driver's plugin returns them from its
``amphora_compute_hardware_profiles`` hookimpl, the same hook a vendor package
uses to add a family.
"""

from __future__ import annotations

from importlib.abc import Traversable
from importlib.resources import files

__all__ = ["profile_files"]


def profile_files() -> list[Traversable]:
    """Every built-in profile file, sorted by name."""
    root = files(__name__)
    return sorted((entry for entry in root.iterdir()
                   if entry.is_file() and entry.name.endswith(".toml")),
                  key=lambda entry: entry.name)
