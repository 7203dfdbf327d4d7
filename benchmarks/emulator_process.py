"""Start ``python -m ai_core.emulator`` as a subprocess for a benchmark; shared by the benchmarks."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parent.parent


def start_emulator(db: str) -> Tuple[subprocess.Popen, int]:
    """The emulator process and the port it picked (read from its start-up line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_core.emulator", "--port", "0", "--db", db],
        cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"IngestionEndpoint=http://127\.0\.0\.1:(\d+)", line)
        if match:
            return proc, int(match.group(1))
    raise RuntimeError("emulator did not start")
