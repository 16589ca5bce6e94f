"""The benchmark commands (``devtools.bench``): help that runs nothing, and the adjust command's report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from devtools.processes import REPO

BENCHMARKS = ["adjust", "jobs", "clicks", "votes", "statistics", "models", "annotation", "engines", "summary"]


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


def test_makefile_bench_ends_with_the_summary_that_runs_every_benchmark():
    from devtools.bench import summary

    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0].strip().splitlines()
    assert recipe[-1].strip() == "$(PY) -m devtools.bench.summary"
    assert {name for name in BENCHMARKS if name != "summary"} <= set(summary.benchmarks())


def test_summary_ends_with_one_bench_line_holding_the_headline_figures(capsys, monkeypatch):
    from devtools.bench import summary

    outputs = {
        "devtools.bench.adjust": json.dumps({"median_s": 0.41}, indent=2),
        "devtools.bench.jobs": json.dumps({"embedded": {"p50_ms": 30.0}, "distributed": {"p50_ms": 45.0}}, indent=2),
        "devtools.bench.clicks": "log line\n" + json.dumps({"summary": {
            "first_click_ms": 90.0, "click_p50_ms": 48.0, "fullres_24mp_s": 1.2}}),
        "devtools.bench.votes": "votes: fine\n",
        "devtools.bench.statistics": "fits: fine\n",
        "devtools.bench.summary": json.dumps({"bootstrap_10k_s": 0.9}),
    }
    ran = []

    def fake_run(args, env=None):
        ran.append(args[1])
        return outputs[args[1]]

    monkeypatch.setattr(summary, "_run", fake_run)
    monkeypatch.setattr(summary, "benchmarks", lambda: list(summary.BENCHMARKS))
    monkeypatch.setattr(summary, "mem_pass_ms", lambda: 20.0)
    assert summary.main([]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("BENCH ") and sum(line.startswith("BENCH") for line in lines) == 1
    figures = json.loads(lines[-1].removeprefix("BENCH "))
    assert {"first_click_ms", "click_p50_ms", "fullres_24mp_s", "adjust_24mp_s", "job_p50_ms_distributed",
            "bootstrap_10k_s", "mem_pass_24mp_ms"} <= set(figures)
    assert figures["per_mem_pass"]["adjust_24mp_s"] == 20.5 and figures["per_mem_pass"]["first_click_ms"] == 4.5
    assert sorted(set(ran)) == sorted(outputs)


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


def test_models_bench_times_every_learned_engine(capsys):
    from devtools.bench import models

    assert models.main(["--json", "--runs", "2", "--full-runs", "1", "--full-width", "64",
                        "--full-height", "48"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["engines"]) == {"retouch.params", "retouch.lut", "retouch.clicks"}
    for name in ("retouch.params", "retouch.lut"):
        row = result["engines"][name]
        assert row["version"] == "bench" and row["p50_ms"] <= row["p90_ms"] and row["full"]["runs"] == 1
    assert result["engines"]["retouch.clicks"]["prepare_p50_ms"] > 0


def test_clicks_summary_holds_the_harmonize_figures():
    """make bench's BENCH line gets harmonize's 24 MP request → file time and its CPU seconds."""
    from devtools.bench import clicks

    fmt = {"median_s": 1.0}
    report = {"embedded": {"first_click_ms": 100.0, "end_to_end_ms": {"p50": 40.0}},
              "full_resolution": {"request_to_file": {"png": fmt, "jpeg": fmt, "webp": fmt,
                                                      "harmonize_png": {"median_s": 1.4}},
                                  "harmonize_in_process": {"total_cpu_s": 1.9}}}
    out = clicks.summary(report)
    assert out["harmonize_24mp_s"] == 1.4 and out["harmonize_24mp_cpu_s"] == 1.9
    assert out["fullres_24mp_s"] == 1.0
