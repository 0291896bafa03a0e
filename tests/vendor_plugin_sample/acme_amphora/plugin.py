"""The vendor's plugin module (entry point group ``amphora_compute``)."""

from __future__ import annotations

from importlib.abc import Traversable
from importlib.resources import files

from amphora_compute.hookspecs import hookimpl


@hookimpl
def amphora_compute_hardware_profiles() -> list[Traversable]:
    return [files("acme_amphora") / "acme_adc.toml"]
