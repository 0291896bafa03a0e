"""Running the real ``amphora`` CLI against a test service, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_amphora(*args: str, config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``amphora ARGS`` in a subprocess with ``config`` as its config file."""
    env = {**os.environ, "AMPHORA_COMPUTE_CONFIG": str(config), "NO_PROXY": "*"}
    return subprocess.run([sys.executable, "-m", "amphora_compute.cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
