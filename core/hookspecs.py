"""The plugin hooks of amphora-compute (pluggy project name ``amphora_compute``).

A plugin is a module (or object) with functions marked ``@hookimpl``.  Built-in
drivers are registered exactly like external ones.  An external package adds
itself through the ``amphora_compute`` entry-point group::

    # pyproject.toml of a vendor package
    [project.entry-points.amphora_compute]
    acme = "acme_amphora.plugin"

    # acme_amphora/plugin.py
    from amphora_compute import DriverSpec, AmphoraType, hookimpl

    @hookimpl
    def amphora_compute_drivers():
        return [DriverSpec(backend="acme", amphora_type=AmphoraType.HARDWARE_LB,
                           target="acme_amphora.driver:AcmeDriver")]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from importlib.abc import Traversable

    from .registry import DriverSpec

PROJECT_NAME = "amphora_compute"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["amphora_compute_drivers", "amphora_compute_hardware_profiles"]


@hookspec
def amphora_compute_drivers() -> Iterable[DriverSpec]:
    """Declare the compute drivers a plugin provides.

    :returns: ``DriverSpec`` records, each naming a backend, its amphora type and
        the ``"module:Class"`` that implements it.  The class is imported only
        when the backend is first used, so declaring a driver costs no import.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def amphora_compute_hardware_profiles() -> Iterable[Traversable]:
    """Declare hardware-profile files (TOML) for device families a plugin supports.

    :returns: files (``importlib.resources`` traversables or paths), one per
        device family, in the format of ``amphora_compute/hardware_profiles``.
        A vendor adds a family with a data file, not new code.

    .. versionadded:: 0.1
    """
    raise NotImplementedError
