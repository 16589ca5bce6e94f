"""Loading study data and turning votes into count matrices.

Ties: a tied vote between a and b adds 1/2 to C[a, b] and 1/2 to C[b, a] ("ties count half
each way"), so it counts as one comparison for both methods and as half a selection each.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_TRUE = {"1", "true", "t", "yes", "y", "tie"}
_MISSING = {"", "-", "na", "nan", "none", "null"}


def _is_true(value) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return bool(value)
    return str(value).strip().lower() in _TRUE


def counts_from_pairs(winners, losers, m, ties=None, weights=None):
    """C[i, j] = (weighted) number of votes where i beat j; a tie adds 1/2 each way.

    Vectorised with np.bincount over the flat index i * m + j.
    """
    w = np.asarray(winners, dtype=np.int64)
    lo = np.asarray(losers, dtype=np.int64)
    wt = np.ones(len(w)) if weights is None else np.asarray(weights, dtype=float)
    if ties is None:
        flat = np.bincount(w * m + lo, weights=wt, minlength=m * m)
    else:
        t = np.asarray(ties, dtype=bool)
        full = np.where(t, 0.5, 1.0) * wt
        flat = np.bincount(w * m + lo, weights=full, minlength=m * m)
        flat += np.bincount(lo[t] * m + w[t], weights=0.5 * wt[t], minlength=m * m)
    return flat.reshape(m, m)


@dataclass
class VoteTable:
    """Votes as integer codes.  ``conditions`` in order of first appearance (or as given)."""

    conditions: list
    winner: np.ndarray
    loser: np.ndarray
    tie: np.ndarray
    participant: np.ndarray
    participants: list
    item: np.ndarray
    items: list
    subset: np.ndarray
    subsets: list  # empty when the votes carry no subset
    has_participant: bool = True
    has_subset: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def m(self):
        return len(self.conditions)

    def counts(self, mask=None, strict=False):
        """Count matrix of the (masked) votes; ``strict`` drops ties (for exact tests)."""
        sel = np.ones(len(self.winner), dtype=bool) if mask is None else mask
        if strict:
            sel = sel & ~self.tie
        return counts_from_pairs(self.winner[sel], self.loser[sel], self.m, self.tie[sel])

    def select(self, mask):
        return VoteTable(
            self.conditions, self.winner[mask], self.loser[mask], self.tie[mask],
            self.participant[mask], self.participants, self.item[mask], self.items,
            self.subset[mask], self.subsets, self.has_participant, self.has_subset,
        )

    def unit_counts(self, unit="participant"):
        """Per-unit count tensors, shape (n_units, m, m), for resampling.

        unit: "participant", "item", or "participant+item" (one unit per participant-item cell,
        returned with the cell's participant and item codes).
        """
        m = self.m
        if unit == "participant":
            codes, n = self.participant, len(self.participants)
        elif unit == "item":
            codes, n = self.item, len(self.items)
        elif unit == "vote":
            codes, n = np.arange(len(self.winner)), len(self.winner)
        else:
            raise ValueError(f"unknown resampling unit {unit!r}")
        flat_idx = codes * (m * m)
        t = self.tie
        full = np.where(t, 0.5, 1.0)
        out = np.bincount(flat_idx + self.winner * m + self.loser, weights=full, minlength=n * m * m)
        out += np.bincount(flat_idx[t] + self.loser[t] * m + self.winner[t], weights=np.full(t.sum(), 0.5),
                           minlength=n * m * m)
        return out.reshape(n, m, m)


def _codes(values):
    names, index, codes = [], {}, np.empty(len(values), dtype=np.int64)
    for k, v in enumerate(values):
        if v not in index:
            index[v] = len(names)
            names.append(v)
        codes[k] = index[v]
    return names, codes


def votes_table(votes, conditions=None, exclude_participants=()):
    """Build a :class:`VoteTable` from dicts with keys winner, loser and optional
    participant, item, subset, tie.  A vote without participant is its own participant."""
    excl = {str(p) for p in exclude_participants}
    rows = [v for v in votes if v.get("participant") in (None, "") or str(v["participant"]) not in excl]
    if conditions is None:
        conds = []
        seen = set()
        for v in rows:
            for key in ("winner", "loser"):
                c = str(v[key])
                if c not in seen:
                    seen.add(c)
                    conds.append(c)
    else:
        conds = [str(c) for c in conditions]
        if len(set(conds)) != len(conds):
            raise ValueError("duplicate condition names")
    if not conds:
        raise ValueError("no votes to analyse")
    cidx = {c: k for k, c in enumerate(conds)}
    n = len(rows)
    winner = np.empty(n, dtype=np.int64)
    loser = np.empty(n, dtype=np.int64)
    for k, v in enumerate(rows):
        try:
            winner[k] = cidx[str(v["winner"])]
            loser[k] = cidx[str(v["loser"])]
        except KeyError as exc:
            raise ValueError(f"vote names unknown condition {exc.args[0]!r}") from None
        if winner[k] == loser[k]:
            raise ValueError(f"vote compares {conds[winner[k]]!r} with itself")
    tie = np.array([_is_true(v.get("tie")) for v in rows], dtype=bool)
    has_part = any(v.get("participant") not in (None, "") for v in rows)
    part_vals = [
        str(v["participant"]) if v.get("participant") not in (None, "") else f"__vote{k}"
        for k, v in enumerate(rows)
    ]
    participants, pcodes = _codes(part_vals)
    items, icodes = _codes([str(v.get("item", "") or "") for v in rows])
    has_subset = any("subset" in v for v in rows)
    subsets, scodes = _codes([str(v.get("subset", "") or "") for v in rows]) if has_subset else ([], np.zeros(n, int))
    return VoteTable(conds, winner, loser, tie, pcodes, participants, icodes, items, scodes, subsets,
                     has_part, has_subset)


# ----------------------------------------------------------------------------- CSV input


# A cell a spreadsheet would run as a formula ("=HYPERLINK(...)", "+1", "-1", "@SUM(...)", or one
# starting with a tab or carriage return) is written with a leading apostrophe, as OWASP advises, and
# read back without it; a cell that starts with an apostrophe before one of those (or before another
# apostrophe) gets one more, so that every value reads back exactly as it was written.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_START = (*FORMULA_START, "'")


def csv_cell(value) -> str:
    """``value`` as a CSV cell that no spreadsheet runs as a formula (see ``csv_cell_value``)."""
    text = str(value)
    if text.startswith(FORMULA_START) or (text.startswith("'") and text[1:].startswith(_QUOTED_START)):
        return "'" + text
    return text


def csv_cell_value(cell: str) -> str:
    """The value ``csv_cell`` wrote as ``cell``."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_QUOTED_START) else cell


def read_csv_rows(path):
    with open(Path(path), newline="", encoding="utf-8-sig") as fh:
        return [[csv_cell_value(cell) for cell in row] for row in csv.reader(fh) if any(cell.strip() for cell in row)]


def detect_format(header):
    cols = [c.strip().lower() for c in header]
    if "winner" in cols and "loser" in cols:
        return "votes"
    if {"method", "rank"} <= set(cols):
        return "rankings"
    return "matrix"


def long_table(rows):
    """Header + rows -> list of dicts with lower-case column names."""
    header = [c.strip().lower() for c in rows[0]]
    out = []
    for r in rows[1:]:
        out.append({h: (r[k].strip() if k < len(r) else "") for k, h in enumerate(header)})
    return out, header


def read_votes_csv(path):
    rows = read_csv_rows(path)
    records, header = long_table(rows)
    if "subset" not in header:
        for r in records:
            r.pop("subset", None)
    return records


def parse_matrix(rows, proportions=False):
    """Square matrix CSV: header of names (first cell empty), names in the first column.

    Returns (names in header order, matrix).  Missing cells (empty, '-', NA) are 0 for counts
    and NaN (pair not compared) for proportions.  Rows are matched to columns by name.
    """
    header = [c.strip() for c in rows[0]]
    names = header[1:]
    while names and names[-1] == "":
        names.pop()
    m = len(names)
    if m == 0 or len(set(names)) != m:
        raise ValueError("matrix header must list distinct condition names after an empty first cell")
    pos = {nme: k for k, nme in enumerate(names)}
    M = np.full((m, m), np.nan if proportions else 0.0)
    seen = set()
    for r in rows[1:]:
        name = r[0].strip()
        if name not in pos:
            raise ValueError(f"row {name!r} is not a column of the matrix")
        if name in seen:
            raise ValueError(f"row {name!r} appears twice")
        seen.add(name)
        i = pos[name]
        for j in range(m):
            cell = r[j + 1].strip() if j + 1 < len(r) else ""
            if cell.lower() in _MISSING:
                continue
            val = float(cell)
            if not np.isfinite(val) or val < 0:
                raise ValueError(f"invalid entry {cell!r} at ({name}, {names[j]})")
            if i != j:
                M[i, j] = val
    if len(seen) != m:
        raise ValueError("matrix must have one row per column name")
    if proportions:
        np.fill_diagonal(M, np.nan)
        if np.nanmax(M, initial=0.0) > 1.0:
            raise ValueError("--proportions: entries must lie in [0, 1]")
    return names, M


def proportions_to_counts(P):
    """Proportion matrix -> pseudo-counts with one comparison per judged pair.

    If only one of P_ij, P_ji is given the other is taken as its complement; if both are given
    they are renormalised to sum to 1.
    """
    P = np.array(P, dtype=float)
    m = P.shape[0]
    C = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            a, b = P[i, j], P[j, i]
            if np.isnan(a) and np.isnan(b):
                continue
            if np.isnan(a):
                a = 1.0 - b
            if np.isnan(b):
                b = 1.0 - a
            tot = a + b
            if tot <= 0:
                continue
            C[i, j], C[j, i] = a / tot, b / tot
    return C
