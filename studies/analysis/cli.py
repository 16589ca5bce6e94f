"""Command line: python -m studies.analysis INPUT.csv [--json] [--proportions] [--rankings]
[--bootstrap N] [--seed S]."""

from __future__ import annotations

import argparse
import sys

from .data import detect_format, long_table, parse_matrix, read_csv_rows
from .ranking import analyse_rankings
from .report import analyse_matrix, analyse_votes, format_report, to_json


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m studies.analysis",
        description="Preference rate, Bradley-Terry and Thurstone scaling of pairwise/ranking studies.",
    )
    p.add_argument("input", help="CSV: square count matrix, long vote table (winner,loser,...) or rankings")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--proportions", action="store_true", help="matrix entries are proportions, not counts")
    p.add_argument("--rankings", action="store_true", help="input is participant,item,method,rank")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap resamples for CIs")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed of the bootstrap")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals")
    p.add_argument("--resample", default="participant", choices=["participant", "item", "participant+item"],
                   help="bootstrap resampling unit for vote tables")
    p.add_argument("--details", action="store_true",
                   help="add significance tests, agreement, consistency and outliers (key 'details')")
    return p


def run(argv=None):
    args = build_parser().parse_args(argv)
    if args.bootstrap < 0:
        raise SystemExit("--bootstrap must be >= 0")
    rows = read_csv_rows(args.input)
    if not rows:
        raise SystemExit(f"{args.input}: empty file")
    fmt = "rankings" if args.rankings else detect_format(rows[0])
    if fmt == "rankings":
        records, header = long_table(rows)
        missing = {"method", "rank"} - set(header)
        if missing:
            raise SystemExit(f"--rankings needs columns participant,item,method,rank (missing {sorted(missing)})")
        res = analyse_rankings(records, bootstrap=args.bootstrap, seed=args.seed, details=args.details)
    elif fmt == "votes":
        records, header = long_table(rows)
        if "subset" not in header:
            for r in records:
                r.pop("subset", None)
        res = analyse_votes(records, bootstrap=args.bootstrap, seed=args.seed, details=args.details,
                            level=args.level, resample=args.resample)
    else:
        names, M = parse_matrix(rows, proportions=args.proportions)
        res = analyse_matrix(M, names, proportions=args.proportions, bootstrap=args.bootstrap, seed=args.seed,
                             level=args.level, details=args.details)
    if args.json:
        sys.stdout.write(to_json(res) + "\n")
    else:
        sys.stdout.write(format_report(res) + "\n")
    for w in res.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    return 0


def main(argv=None):
    try:
        return run(argv)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
