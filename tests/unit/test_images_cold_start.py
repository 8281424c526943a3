"""`make images` reads the serving container's CPU time from its PID 1's /proc stat."""

import os
from pathlib import Path

from scripts.images import proc_stat_cpu_s


def test_proc_stat_cpu_s_is_the_process_cpu_time() -> None:
    sum(i * i for i in range(3_000_000))  # spend some CPU, so that zero cannot pass
    times = os.times()
    got = proc_stat_cpu_s(Path("/proc/self/stat").read_text())
    assert got is not None and got > 0
    assert abs(got - (times.user + times.system)) <= 0.05


def test_proc_stat_cpu_s_reads_past_a_command_name_with_spaces() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    fields = ["S"] + ["0"] * 10 + [str(3 * tick), str(tick)] + ["0"] * 30
    assert proc_stat_cpu_s("1 (python ) x) " + " ".join(fields)) == 4.0
    assert proc_stat_cpu_s("1 (truncated)") is None
