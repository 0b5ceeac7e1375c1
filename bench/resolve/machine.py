"""How busy the machine is, so that a run's timings can be judged.

The benchmark shares the machine with whatever else runs there (builds, tests). Just before
each timed run, nothing of the benchmark's own is running, so the CPU time spent in one second
then is other work: `busy_cores()` returns it in cores (0.0 = idle, 2.0 = both cores busy).
"""

from __future__ import annotations

import os
import time


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies summed over all cores, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def busy_cores(seconds: float = 1.0) -> float:
    """Cores' worth of CPU used by the whole machine during the next `seconds`."""
    busy_before, total_before = _cpu_times()
    time.sleep(seconds)
    busy_after, total_after = _cpu_times()
    elapsed = total_after - total_before
    if elapsed <= 0:
        return 0.0
    share = (busy_after - busy_before) / elapsed
    return round(share * (os.cpu_count() or 1), 2)
