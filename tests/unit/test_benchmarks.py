"""The benchmark commands (``devtools.bench``): help that runs nothing, and the adjust command's report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devtools.processes import REPO

BENCHMARKS = ["adjust", "jobs", "clicks", "votes", "statistics"]


@pytest.mark.parametrize("name", BENCHMARKS)
def test_help_names_the_command_shows_defaults_and_runs_nothing(name):
    module = f"devtools.bench.{name}"
    result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {module}")
    assert result.stderr == ""
    if name != "statistics":  # the only one without options
        assert "(default: " in result.stdout


def test_every_benchmark_module_is_listed():
    assert sorted(p.stem for p in (REPO / "devtools" / "bench").glob("[!_]*.py")) == sorted(BENCHMARKS)


def test_makefile_bench_runs_every_benchmark():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert sorted(name for name in BENCHMARKS if f"-m devtools.bench.{name}" in recipe) == sorted(BENCHMARKS)


def test_adjust_reports_engine_timing_and_job_latency(capsys, monkeypatch):
    from devtools.bench import adjust

    # The real job latency starts servers (its own benchmark); here only its dispatch is checked.
    monkeypatch.setattr(adjust.jobs, "job_latency", lambda n: {"jobs_per_mode": n})
    assert adjust.main(["--json", "--width", "40", "--height", "30", "--runs", "5", "--jobs", "7"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 5 and result["min_s"] <= result["median_s"] <= result["p90_s"]
    assert result["params"] == adjust.TYPICAL_ADJUST_PARAMS
    assert result["sections"] == {"job_latency": {"jobs_per_mode": 7}}
    assert adjust.main(["--width", "40", "--height", "30", "--runs", "5", "--no-e2e"]) == 0
    text = capsys.readouterr().out
    assert "median" in text and "p90" in text and "job_latency" not in text
