"""Process and machine readings for Live Metrics' CPU and memory charts.

Linux reads ``/proc`` (no dependency); elsewhere the standard library's ``os.times`` gives the
process's CPU and the memory readings are left out. What each metric means here:

* ``\\Memory\\Committed Bytes``: this process's private committed memory, i.e. anonymous
  resident plus swapped-out memory (``RssAnon + VmSwap`` of ``/proc/self/status``). Per
  process, because every worker streams on its own.
* ``\\Process\\Physical Bytes``: the process's resident set (``VmRSS``).
* ``\\Processor(_Total)\\% Processor Time``: the machine's busy CPU time, from ``/proc/stat``.
* ``\\% Process\\Processor Time Normalized``: this process's CPU time divided by the number of
  CPUs, in percent (100 = every core busy with this process).
"""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Tuple

COMMITTED_BYTES = "\\Memory\\Committed Bytes"
PHYSICAL_BYTES = "\\Process\\Physical Bytes"
PROCESSOR_TIME = "\\Processor(_Total)\\% Processor Time"
PROCESS_TIME_NORMALIZED = "\\% Process\\Processor Time Normalized"


def _status_kib(text: str, key: str) -> Optional[int]:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def read_memory(status_path: str = "/proc/self/status") -> Dict[str, float]:
    """Committed and physical bytes of this process; empty where ``/proc`` is missing."""
    try:
        with open(status_path, encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return {}
    out: Dict[str, float] = {}
    rss = _status_kib(text, "VmRSS")
    if rss is not None:
        out[PHYSICAL_BYTES] = rss * 1024.0
    anon = _status_kib(text, "RssAnon")
    if anon is not None:
        out[COMMITTED_BYTES] = (anon + (_status_kib(text, "VmSwap") or 0)) * 1024.0
    return out


def read_machine_cpu(stat_path: str = "/proc/stat") -> Optional[Tuple[float, float]]:
    """(busy, total) jiffies of all CPUs since boot, or None."""
    try:
        with open(stat_path, encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [float(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)
    total = sum(values)
    return total - idle, total


def process_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class ProcessReadings:
    """CPU percentages since the previous reading, and memory now; one instance per process."""

    def __init__(
        self,
        clock: Callable[[], float],
        cpu_count: Optional[int] = None,
        process_cpu: Callable[[], float] = process_cpu_seconds,
        machine_cpu: Callable[[], Optional[Tuple[float, float]]] = read_machine_cpu,
        memory: Callable[[], Dict[str, float]] = read_memory,
    ) -> None:
        self._clock = clock
        self._cpus = cpu_count or os.cpu_count() or 1
        self._process_cpu = process_cpu
        self._machine_cpu = machine_cpu
        self._memory = memory
        self._process_share = 0.0  # kept when too little time passed to measure again
        self._machine_share: Optional[float] = None
        self.reset()

    def reset(self) -> None:
        """Start measuring CPU from now (at the first post, and in a forked child)."""
        self._last_wall = self._clock()
        self._last_process = self._process_cpu()
        self._last_machine = self._machine_cpu()

    def read(self) -> List[Tuple[str, float]]:
        out: List[Tuple[str, float]] = []
        for name, value in sorted(self._memory().items()):
            out.append((name, value))
        wall, process, machine = self._clock(), self._process_cpu(), self._machine_cpu()
        elapsed = wall - self._last_wall
        if elapsed > 0:
            share = (process - self._last_process) / elapsed / self._cpus * 100.0
            self._process_share = round(min(max(share, 0.0), 100.0), 3)
        out.append((PROCESS_TIME_NORMALIZED, self._process_share))
        if machine is not None and self._last_machine is not None:
            busy = machine[0] - self._last_machine[0]
            total = machine[1] - self._last_machine[1]
            if total > 0:  # /proc/stat counts in clock ticks: within one tick, keep the last value
                self._machine_share = round(min(max(busy / total * 100.0, 0.0), 100.0), 3)
            elif self._machine_share is None:
                self._machine_share = 0.0
        if self._machine_share is not None:
            out.append((PROCESSOR_TIME, self._machine_share))
        self._last_wall, self._last_process, self._last_machine = wall, process, machine
        return out
