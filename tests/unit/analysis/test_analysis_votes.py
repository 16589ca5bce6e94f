"""Votes -> counts, rates, the analyse_votes API, rankings, real data."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from studies.analysis import (
    analyse_votes,
    counts_from_pairs,
    mean_rank,
    preference_rate,
    ranking_score,
    rankings_to_votes,
    to_json,
    votes_table,
    win_rate,
)


def test_ties_count_half_each_way():
    C = counts_from_pairs([0, 1, 0], [1, 2, 2], 3, ties=[False, False, True])
    np.testing.assert_allclose(C, [[0, 1, 0.5], [0, 0, 1], [0.5, 0, 0]])
    assert C.sum() == 3  # one comparison per vote


def test_rates_by_hand():
    C = np.array([[0, 3, 1], [1, 0, 2], [0, 2, 0]], float)
    np.testing.assert_allclose(preference_rate(C), [4 / 9, 3 / 9, 2 / 9])
    np.testing.assert_allclose(win_rate(C), [4 / 5, 3 / 8, 2 / 5])
    assert preference_rate(np.zeros((2, 2))).tolist() == [0, 0]


def test_analyse_votes_api_shape_order_and_exclusion():
    votes = [
        {"participant": "p1", "item": "i", "subset": "s1", "winner": "B", "loser": "A"},
        {"participant": "p1", "item": "i", "subset": "s1", "winner": "A", "loser": "C", "tie": True},
        {"participant": "p2", "item": "j", "subset": "s2", "winner": "C", "loser": "B"},
        {"participant": "p2", "item": "j", "subset": "s2", "winner": "A", "loser": "B"},
        {"participant": "p3", "item": "j", "subset": "s2", "winner": "B", "loser": "C"},
    ]
    out = analyse_votes(votes)
    assert out["conditions"] == ["B", "A", "C"]
    assert list(out["subsets"]) == ["s1", "s2"]
    assert out["subsets"]["s1"]["comparisons"] == 2 and out["subsets"]["s2"]["comparisons"] == 3
    json.loads(to_json(out))
    fixed = analyse_votes(votes, conditions=["A", "B", "C"])
    assert fixed["conditions"] == ["A", "B", "C"] and list(fixed["win_rate"]) == ["A", "B", "C"]
    excl = analyse_votes(votes, exclude_participants=["p3"])
    assert excl["comparisons"] == 4
    with pytest.raises(ValueError):
        analyse_votes(votes, conditions=["A", "B"])


def test_details_section():
    rng = np.random.default_rng(0)
    votes = []
    for p in range(8):
        for _ in range(30):
            i, j = rng.choice(4, 2, replace=False)
            a, b = (i, j) if (rng.random() < 0.5 + 0.1 * (i - j)) else (j, i)
            votes.append({"participant": f"p{p}", "winner": f"c{a}", "loser": f"c{b}"})
    out = analyse_votes(votes, details=True)
    det = out["details"]
    assert set(det) >= {"significance", "binomial", "agreement", "consistency", "outliers"}
    names = out["conditions"]
    assert set(det["significance"]["p_value"][names[0]]) == set(names[1:])
    json.loads(to_json(out))


def test_rankings_helpers():
    rows = [
        {"participant": "p", "item": "1", "method": "A", "rank": 1},
        {"participant": "p", "item": "1", "method": "B", "rank": 2},
        {"participant": "p", "item": "1", "method": "C", "rank": 2},
        {"participant": "q", "item": "1", "method": "A", "rank": 3},
        {"participant": "q", "item": "1", "method": "B", "rank": 1},
        {"participant": "q", "item": "1", "method": "C", "rank": 2},
    ]
    np.testing.assert_allclose(mean_rank(rows, ["A", "B", "C"]), [2.0, 1.5, 2.0])
    np.testing.assert_allclose(ranking_score(rows, ["A", "B", "C"]), [(3 + 1) / 2, (2 + 3) / 2, (2 + 2) / 2])
    votes = rankings_to_votes(rows)
    assert len(votes) == 6 and sum(v["tie"] for v in votes) == 1


def test_real_tmo_data_pooled_and_per_scene(tmo_votes):
    with open(tmo_votes, newline="") as fh:
        votes = list(csv.DictReader(fh))
    out = analyse_votes(votes, bootstrap=200, seed=0, details=True)
    assert len(out["conditions"]) == 7 and len(out["subsets"]) == 5
    assert out["comparisons"] == 1213
    assert len(out["details"]["outliers"]["participants"]) == len({v["participant"] for v in votes})
    for sub in [out, *out["subsets"].values()]:
        assert sum(sub["preference_rate"].values()) == pytest.approx(1.0)
        b = sub["bradley_terry"]["log_strength"]
        assert sum(b.values()) == pytest.approx(0.0, abs=1e-9)
        for name, (lo, hi) in sub["ci"]["thurstone.z"].items():
            assert lo <= sub["thurstone"]["z"][name] <= hi
    json.loads(to_json(out))
    # Kendall's u: observers agree far more than chance on this published experiment
    assert out["details"]["agreement"]["u"] > 0 and out["details"]["agreement"]["p_value"] < 1e-6
    tab = votes_table(votes)
    assert tab.counts().sum() == 1213


def test_package_imports_neither_django_nor_choix():
    import subprocess
    import sys

    code = ("import sys, studies.analysis, studies.analysis.cli; "
            "bad = [m for m in ('django', 'choix') if m in sys.modules]; assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_no_votes_is_a_clear_error():
    with pytest.raises(ValueError, match="no votes"):
        analyse_votes([])
