"""`queuectl bench` runs end to end and prints every figure (the numbers themselves are
reported, not asserted: these machines are shared and noisy)."""

from __future__ import annotations

import json

import pytest

from queuectl_tui.bench import Figures

pytestmark = pytest.mark.slow

FIGURES = (
    "spawn_limit_jobs_per_s", "throughput_jobs_per_s", "throughput_ratio",
    "bulk_enqueue_jobs_per_s", "bulk_enqueue_s", "pickup_p50_ms", "pickup_p99_ms",
    "history_throughput_jobs_per_s", "history_ratio", "cli_status_ms", "bare_import_ms",
    "cli_ratio", "idle_cpu_percent",
)


def test_bench_measures_every_figure_and_prints_the_seven_rows(cli):
    """One real run (about 25 s: the figures are medians of several rounds); the
    table is the same figures laid out, checked from that run's JSON."""
    result = cli("bench", "--jobs", "40", "--history", "1000", "--idle-seconds", "1",
                 "--json")
    figures = json.loads(result.out)
    for name in FIGURES:
        assert isinstance(figures[name], float | int) and figures[name] >= 0, name
    assert figures["throughput_jobs_per_s"] > 0 and figures["pickup_p99_ms"] >= 0
    jobs, workers = figures.pop("jobs"), figures.pop("workers")
    lines = Figures(jobs, workers, figures).table().splitlines()
    assert lines[0].startswith("queuectl bench: 40 jobs, 2 workers")
    for number in range(1, 8):
        assert sum(line.startswith(f"{number}. ") for line in lines) == 1, lines
