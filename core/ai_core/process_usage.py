"""How much CPU and memory this process and its machine use, read from ``/proc`` on Linux.

The readings behind the performance counters (README, "Performance counters") and Live
Metrics' CPU and memory charts. They are plain numbers from a few small text files the kernel
keeps (no dependency, a few tens of microseconds per reading), so reading them every second is
cheap. Where ``/proc`` does not exist (macOS, Windows) only the process's CPU time is known
(the standard library's ``os.times``); every other reading is ``None`` there.

What the numbers mean, so that a chart of them can be read:

* process CPU time: user + system seconds of all this process's threads (``os.times``);
* resident bytes: the process's memory in RAM now, shared library pages included (``VmRSS``);
* private bytes: memory that belongs to this process alone, in RAM or swapped out: its
  anonymous memory (heap, stacks, Python objects), not the files and libraries it maps
  (``RssAnon + VmSwap`` of ``/proc/self/status``). Windows' "Private Bytes" counter is the
  process's commit charge, and on Linux this is the same quantity, so it is also what we
  report as the process's committed bytes;
* machine CPU: busy and total clock ticks of all CPUs since boot (``/proc/stat``), busy being
  everything but idle and I/O wait;
* available memory: what the kernel could give to new work without swapping
  (``MemAvailable`` of ``/proc/meminfo``); the host's, not a container's cgroup limit;
* I/O bytes: everything the process read and wrote through system calls, files and sockets
  alike (``rchar + wchar`` of ``/proc/self/io``), as Windows' "IO Data Bytes" counts all I/O.

For Live Metrics or any chart: :class:`UsageMeter` gives percentages since its own previous
reading, so each consumer keeps its own meter and none disturbs another's window.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

__all__ = [
    "ProcessMemory",
    "UsageMeter",
    "UsageReading",
    "available_memory_bytes",
    "cpu_count",
    "machine_cpu_ticks",
    "process_cpu_seconds",
    "process_io_bytes",
    "process_memory",
]

_PROC = "/proc"


def process_cpu_seconds() -> float:
    """User + system CPU seconds this process has used, all threads (every platform)."""
    times = os.times()
    return times.user + times.system


@dataclass(frozen=True)
class ProcessMemory:
    resident_bytes: Optional[int]
    private_bytes: Optional[int]

    @property
    def committed_bytes(self) -> Optional[int]:
        """The process's commit charge; on Linux its private bytes (see the module docstring)."""
        return self.private_bytes


def process_memory(proc: str = _PROC) -> ProcessMemory:
    """Resident and private bytes of this process; ``None`` where ``/proc`` has no answer."""
    text = _read(proc + "/self/status")
    if text is None:
        return ProcessMemory(None, None)
    fields = _kib_fields(text, ("VmRSS", "RssAnon", "VmSwap"))
    resident = fields.get("VmRSS")
    anon = fields.get("RssAnon")
    private = None if anon is None else anon + fields.get("VmSwap", 0)
    return ProcessMemory(resident, private)


def machine_cpu_ticks(proc: str = _PROC) -> Optional[Tuple[int, int]]:
    """(busy, total) clock ticks of all CPUs since boot, or None."""
    try:
        with open(proc + "/stat", "rb") as stat:
            first = stat.readline().split()
    except OSError:
        return None
    if not first or first[0] != b"cpu":
        return None
    try:
        # user nice system idle iowait irq softirq steal (guest time is inside user and nice)
        ticks = [int(value) for value in first[1:9]]
    except ValueError:
        return None
    if len(ticks) < 4:
        return None
    total = sum(ticks)
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return total - idle, total


def available_memory_bytes(proc: str = _PROC) -> Optional[int]:
    """Memory the machine can give to new work without swapping, or None."""
    text = _read(proc + "/meminfo")
    return None if text is None else _kib_fields(text, ("MemAvailable",)).get("MemAvailable")


def process_io_bytes(proc: str = _PROC) -> Optional[int]:
    """Bytes this process has read and written through system calls, or None."""
    text = _read(proc + "/self/io")
    if text is None:
        return None
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("rchar", "wchar"):
            try:
                values[key] = int(value)
            except ValueError:
                return None
    if len(values) != 2:
        return None
    return values["rchar"] + values["wchar"]


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, e.g. a container's cpuset), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class UsageReading:
    """One :meth:`UsageMeter.read`: CPU shares since the meter's previous reading, memory now.

    ``process_cpu_percent`` is of one CPU (a process busy on two cores reads 200, as Windows'
    ``% Processor Time`` of a process does); ``process_cpu_percent_normalized`` divides it by
    the CPUs the process may use (100 = all of them). ``machine_cpu_percent`` is the whole
    machine's busy share, 0..100. A reading with no time since the previous one repeats its
    percentages. The machine's share and the memory values are ``None`` without ``/proc``.
    """

    cpu_seconds: float
    process_cpu_percent: float
    process_cpu_percent_normalized: float
    machine_cpu_percent: Optional[float]
    resident_bytes: Optional[int]
    private_bytes: Optional[int]

    @property
    def committed_bytes(self) -> Optional[int]:
        return self.private_bytes


class UsageMeter:
    """Process CPU time, CPU percentages, resident/private/committed bytes and the machine's
    CPU percentage, for a chart that reads them every second or every minute.

    Each :meth:`read` measures CPU over the time since this meter's previous ``read`` (or its
    creation, or :meth:`restart`); keep one meter per consumer. A reading costs one
    ``os.times`` call and two small ``/proc`` reads. Not thread-safe: read it from one thread.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, cpus: Optional[int] = None) -> None:
        self._clock = clock
        self._cpus = cpus or cpu_count()
        self._last_process_share = 0.0
        self._last_machine_share: Optional[float] = None
        self.restart()

    def restart(self) -> None:
        """Measure CPU from now on (in a forked child: its CPU time starts again at zero)."""
        self._since = self._clock()
        self._cpu = process_cpu_seconds()
        self._machine = machine_cpu_ticks()

    def read(self) -> UsageReading:
        now, cpu, machine = self._clock(), process_cpu_seconds(), machine_cpu_ticks()
        elapsed = now - self._since
        if elapsed > 0:
            self._last_process_share = max(cpu - self._cpu, 0.0) / elapsed * 100.0
        if machine is not None and self._machine is not None:
            busy, total = machine[0] - self._machine[0], machine[1] - self._machine[1]
            if total > 0:  # /proc/stat counts whole ticks (10 ms): within one, keep the last value
                self._last_machine_share = min(max(busy / total * 100.0, 0.0), 100.0)
            elif self._last_machine_share is None:
                self._last_machine_share = 0.0
        self._since, self._cpu, self._machine = now, cpu, machine
        memory = process_memory()
        share = self._last_process_share
        return UsageReading(
            cpu_seconds=cpu,
            process_cpu_percent=share,
            process_cpu_percent_normalized=share / self._cpus,
            machine_cpu_percent=self._last_machine_share,
            resident_bytes=memory.resident_bytes,
            private_bytes=memory.private_bytes,
        )


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _kib_fields(text: str, keys: Tuple[str, ...]) -> dict:
    """``{key: bytes}`` for the ``Key:   123 kB`` lines of ``/proc`` status-like files."""
    found = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if sep and key in keys:
            parts = rest.split()
            try:
                found[key] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
            except (IndexError, ValueError):
                continue
    return found
