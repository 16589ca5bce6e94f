"""The command-line contract: formats, JSON keys, strict JSON, subsets, rankings, bootstrap seeds."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import choix
import numpy as np
import pytest

from tests.unit.analysis.reference_data import BASEBALL, TEAMS

ROOT = Path(__file__).resolve().parents[3]

KEYS = {"conditions", "comparisons", "preference_rate", "win_rate", "bradley_terry", "thurstone", "thurstone_ls",
        "regularized", "ci"}


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "studies.analysis", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def strict_json(text):
    def bad(x):
        raise AssertionError(f"non-strict JSON constant {x}")

    return json.loads(text, parse_constant=bad)


def write_matrix(path, names, M, first=""):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([first, *names])
        for n, row in zip(names, M, strict=True):
            w.writerow([n, *row])


def check_shape(obj, names):
    assert KEYS <= set(obj)
    assert obj["conditions"] == names
    for key in ("preference_rate", "win_rate"):
        assert list(obj[key]) == names
    for key in ("log_strength", "score", "exp_score", "se"):
        assert list(obj["bradley_terry"][key]) == names
        assert all(isinstance(v, float) and math.isfinite(v) for v in obj["bradley_terry"][key].values())
    for key in ("z", "jod"):
        assert list(obj["thurstone"][key]) == names
    assert isinstance(obj["regularized"], bool)
    assert isinstance(obj["comparisons"], (int, float))


def test_matrix_json(tmp_path):
    # rows deliberately in a different order from the header: rows are matched by name
    order = [6, 0, 1, 2, 3, 4, 5]
    path = tmp_path / "m.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["", *TEAMS])
        for i in order:
            w.writerow([TEAMS[i], *(int(v) for v in BASEBALL[i])])
    obj = strict_json(run_cli(path, "--json").stdout)
    check_shape(obj, TEAMS)
    assert obj["comparisons"] == 273
    b = obj["bradley_terry"]["log_strength"]
    assert b["Milwaukee"] - b["Baltimore"] == pytest.approx(1.58, abs=0.005)
    assert sum(obj["preference_rate"].values()) == pytest.approx(1.0)
    assert obj["preference_rate"]["Milwaukee"] == pytest.approx(50 / 273)
    assert obj["win_rate"]["Baltimore"] == pytest.approx(18 / 78)
    assert obj["thurstone_ls"] is not None and list(obj["thurstone_ls"]["z"]) == TEAMS
    assert obj["regularized"] is False and obj["ci"] is None
    assert "subsets" not in obj


def test_proportions_matrix(tmp_path):
    z = np.array([0.0, 0.5, 1.2])
    from scipy.special import ndtr

    P = ndtr(z[:, None] - z[None, :])
    names = ["a", "b", "c"]
    rows = [[("" if i == j else f"{P[i, j]:.15f}") for j in range(3)] for i in range(3)]
    path = tmp_path / "p.csv"
    write_matrix(path, names, rows)
    obj = strict_json(run_cli(path, "--json", "--proportions").stdout)
    check_shape(obj, names)
    zz = obj["thurstone_ls"]["z"]
    np.testing.assert_allclose([zz[n] for n in names], z - z.mean(), atol=1e-9)
    # ML on proportions of an exact Case V matrix also recovers the scale
    zm = obj["thurstone"]["z"]
    np.testing.assert_allclose([zm[n] for n in names], z - z.mean(), atol=1e-6)


def test_long_table_with_ties_and_strict_json(tmp_path):
    path = tmp_path / "v.csv"
    rows = [("p1", "x", "A", "B", ""), ("p1", "x", "B", "C", ""), ("p2", "x", "A", "C", "1"),
            ("p2", "y", "C", "A", ""), ("p3", "y", "A", "B", ""), ("p3", "y", "B", "A", "")]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["participant", "item", "winner", "loser", "tie"])
        w.writerows(rows)
    obj = strict_json(run_cli(path, "--json").stdout)
    check_shape(obj, ["A", "B", "C"])
    assert obj["comparisons"] == 6
    # selections: A: 1 + 0.5 + 1 = 2.5; B: 1 + 1 = 2; C: 0.5 + 1 = 1.5
    assert obj["preference_rate"] == pytest.approx({"A": 2.5 / 6, "B": 2 / 6, "C": 1.5 / 6})
    assert obj["win_rate"]["A"] == pytest.approx(2.5 / 5)


def test_unbeaten_condition_is_regularized_not_nan(tmp_path):
    path = tmp_path / "v.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["winner", "loser"])
        w.writerows([("A", "B")] * 5 + [("A", "C")] * 4 + [("B", "C"), ("C", "B")])
    proc = run_cli(path, "--json")
    obj = strict_json(proc.stdout)
    assert obj["regularized"] is True
    assert obj["warnings"] and "warning" in proc.stderr
    b = obj["bradley_terry"]["log_strength"]
    assert b["A"] > b["B"] and b["A"] > b["C"]


def test_rankings(tmp_path):
    path = tmp_path / "r.csv"
    rows = []
    for p in ["p1", "p2"]:
        for item in ["i1", "i2"]:
            ranks = {"X": 1, "Y": 2, "Z": 3} if (p, item) != ("p2", "i2") else {"X": 2, "Y": 1, "Z": 3}
            rows += [(p, item, meth, r) for meth, r in ranks.items()]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["participant", "item", "method", "rank"])
        w.writerows(rows)
    obj = strict_json(run_cli(path, "--json", "--rankings").stdout)
    check_shape(obj, ["X", "Y", "Z"])
    assert obj["comparisons"] == 4 * 3
    assert obj["mean_rank"] == pytest.approx({"X": 1.25, "Y": 1.75, "Z": 3.0})
    # scores 3..1 summed over 2 items per participant, averaged: X (6 + 5)/2, Y (4 + 5)/2, Z 2
    assert obj["ranking_score"] == pytest.approx({"X": 5.5, "Y": 4.5, "Z": 2.0})


def test_bootstrap_reproducible_and_brackets_estimate(tmo_votes):
    a = strict_json(run_cli(tmo_votes, "--json", "--bootstrap", 200, "--seed", 3).stdout)
    b = strict_json(run_cli(tmo_votes, "--json", "--bootstrap", 200, "--seed", 3).stdout)
    c = strict_json(run_cli(tmo_votes, "--json", "--bootstrap", 200, "--seed", 4).stdout)
    assert a["ci"] == b["ci"]
    assert a["ci"] != c["ci"]
    for stat in ("preference_rate", "bradley_terry.log_strength", "thurstone.jod"):
        for name, (lo, hi) in a["ci"][stat].items():
            head, _, tail = stat.partition(".")
            est = a[head][tail][name] if tail else a[head][name]
            assert lo <= est <= hi


def test_tmo_subsets_match_choix(tmo_votes):
    obj = strict_json(run_cli(tmo_votes, "--json").stdout)
    with open(tmo_votes, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = list(dict.fromkeys(n for r in rows for n in (r["winner"], r["loser"])))
    check_shape(obj, names)
    assert obj["comparisons"] == len(rows) == 1213
    subsets = list(dict.fromkeys(r["subset"] for r in rows))
    assert list(obj["subsets"]) == subsets and len(subsets) == 5
    assert sum(s["comparisons"] for s in obj["subsets"].values()) == 1213
    idx = {n: k for k, n in enumerate(names)}
    for name in subsets:
        sub = obj["subsets"][name]
        check_shape(sub, names)
        data = [(idx[r["winner"]], idx[r["loser"]]) for r in rows if r["subset"] == name]
        if sub["regularized"]:
            ref = choix.opt_pairwise(len(names), data, alpha=1 / 18, tol=1e-12)
        else:
            ref = choix.ilsr_pairwise(len(names), data, tol=1e-12, max_iter=10_000)
            ref -= ref.mean()
        ours = np.array([sub["bradley_terry"]["log_strength"][n] for n in names])
        np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_table_output_lists_every_subset(tmo_votes):
    out = run_cli(tmo_votes).stdout
    for name in ["window", "exhibition", "corridor", "rivoli", "students"]:
        assert f"subset {name}" in out
    assert "Pref. rate" in out and "B-T score" in out and "Thurstone" in out


def test_bad_matrix_is_an_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(",a,b\na,0,1\n")  # row b missing
    proc = run_cli(path, "--json", check=False)
    assert proc.returncode != 0 and "error" in proc.stderr
