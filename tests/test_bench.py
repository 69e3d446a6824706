"""`queuectl bench` runs end to end and prints every figure (the numbers themselves are
reported, not asserted: these machines are shared and noisy)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

FIGURES = (
    "spawn_limit_jobs_per_s", "throughput_jobs_per_s", "throughput_ratio",
    "bulk_enqueue_jobs_per_s", "bulk_enqueue_s", "pickup_p50_ms", "pickup_p99_ms",
    "history_throughput_jobs_per_s", "history_ratio", "cli_status_ms", "bare_import_ms",
    "cli_ratio", "idle_cpu_percent",
)


def test_bench_prints_all_seven_figures(cli):
    result = cli("bench", "--jobs", "60", "--history", "2000", "--idle-seconds", "1")
    lines = result.out.splitlines()
    assert lines[0].startswith("queuectl bench: 60 jobs, 2 workers")
    for number in range(1, 8):
        assert any(line.startswith(f"{number}. ") for line in lines), result.out


def test_bench_json_has_every_figure(cli):
    result = cli("bench", "--jobs", "40", "--history", "1000", "--idle-seconds", "1",
                 "--json")
    figures = json.loads(result.out)
    for name in FIGURES:
        assert isinstance(figures[name], float | int) and figures[name] >= 0, name
    assert figures["throughput_jobs_per_s"] > 0 and figures["pickup_p99_ms"] >= 0
