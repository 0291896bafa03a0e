"""The one list of packages the Nova stack's cached venv holds (its hash names the venv)."""

from __future__ import annotations

#: Versions that ran together here (RECIPES.md); SQLAlchemy 2.1 breaks them.
REQUIREMENTS: tuple[str, ...] = (
    "nova==34.0.0",
    "openstack-placement==16.0.0",
    "glance==33.0.0",
    "neutron==29.0.0",
    "SQLAlchemy>=2.0,<2.1",
    "gunicorn",
)
