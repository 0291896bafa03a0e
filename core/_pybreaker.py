"""Import pybreaker without paying for redis.

pybreaker imports ``redis`` at import time whenever it is installed (for its
own ``CircuitRedisStorage``), which costs 130 to 300 ms: every CLI command that
builds a dispatcher would pay it even with no ``redis_url`` configured.  We
never use pybreaker's Redis storage (``redis_storage`` has our own), so the
first import hides ``redis`` from pybreaker for that moment.  If ``redis`` is
already imported, pybreaker is imported as it is.
"""

from __future__ import annotations

import sys
from types import ModuleType


def load() -> ModuleType:
    """pybreaker, imported without importing redis when redis is not loaded yet."""
    module = sys.modules.get("pybreaker")
    if module is not None:
        return module
    if "redis" in sys.modules:
        import pybreaker

        return pybreaker
    sys.modules["redis"] = None  # type: ignore[assignment]  # `import redis` -> ImportError
    try:
        import pybreaker
    finally:
        del sys.modules["redis"]
    return pybreaker
