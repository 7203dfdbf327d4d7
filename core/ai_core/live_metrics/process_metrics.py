"""Live Metrics' CPU and memory points, from the process readings the performance counters use
too (ai_core.process_usage: ``/proc`` on Linux; elsewhere only the process's CPU).

* ``\\Memory\\Committed Bytes``: this process's committed (private) bytes, per process because
  every worker streams on its own;
* ``\\Process\\Physical Bytes``: its resident set;
* ``\\Processor(_Total)\\% Processor Time``: the machine's busy CPU share;
* ``\\% Process\\Processor Time Normalized``: the process's CPU share divided by its CPUs.

A reading that is not available on the platform is left out.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ai_core.process_usage import UsageMeter

COMMITTED_BYTES = "\\Memory\\Committed Bytes"
PHYSICAL_BYTES = "\\Process\\Physical Bytes"
PROCESSOR_TIME = "\\Processor(_Total)\\% Processor Time"
PROCESS_TIME_NORMALIZED = "\\% Process\\Processor Time Normalized"


def process_points(meter: UsageMeter) -> List[Dict[str, Any]]:
    """The four points, measured since ``meter``'s previous reading (one meter per stream)."""
    reading = meter.read()
    values = (
        (COMMITTED_BYTES, reading.committed_bytes),
        (PHYSICAL_BYTES, reading.resident_bytes),
        (PROCESSOR_TIME, reading.machine_cpu_percent),
        (PROCESS_TIME_NORMALIZED, reading.process_cpu_percent_normalized),
    )
    return [{"Name": name, "Value": round(float(value), 3), "Weight": 1} for name, value in values if value is not None]
