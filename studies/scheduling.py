"""Which trials a participant gets: balanced blocks (studies.analysis.balanced_schedule), ranking
blocks, practice trials and adaptive pair choice (studies.analysis.next_pair). Pure functions of
method/item ids so they are easy to test; studies.kinds picks what a study uses, and
studies.participation turns them into rows."""

from __future__ import annotations

import functools

import numpy as np

from studies.analysis import balanced_schedule, next_pair
from studies.analysis.design import ATTENTION_DEGRADED

DEGRADED = ATTENTION_DEGRADED


def pairwise_block(methods: list[int], items: list[int], slot: int, n_wanted: int, per_participant: int,
                   attention_every: int, seed: int) -> list[dict]:
    """Block ``slot`` of the balanced schedule. Trials: item, left, right (method ids or DEGRADED),
    attention. The schedule is computed for ``n_wanted`` participants, so the first n_wanted together
    cover every pair of every item equally often; later participants (over-recruitment) start a new
    round of n_wanted blocks, a schedule of its own seed. Its cost never depends on ``slot``, and a
    round is computed once per process (cached)."""
    n = max(1, n_wanted)
    rounds, block = divmod(slot, n)
    blocks = _balanced_round(tuple(methods), tuple(items), n, per_participant, attention_every,
                             seed if rounds == 0 else seed + ROUND_SEED_STEP * rounds)
    return [dict(item=t["item"], left=t["left"], right=t["right"], attention=t["attention_check"])
            for t in blocks[block]]


ROUND_SEED_STEP = 1_000_003  # round r of a balanced schedule uses seed + r * this


@functools.lru_cache(maxsize=4)
def _balanced_round(methods: tuple, items: tuple, n: int, per_participant: int, attention_every: int,
                    seed: int) -> list[list[dict]]:
    return balanced_schedule(list(methods), list(items), n, trials_per_participant=per_participant,
                             attention_every=attention_every, seed=seed)


def ranking_block(methods: list[int], items: list[int], slot: int, per_participant: int, k: int,
                  attention_every: int, seed: int) -> list[dict]:
    """Items dealt out in shuffled copies (participant ``slot`` continues where ``slot - 1`` ended; each
    copy is shuffled on its own); each trial ranks ``k`` methods in random display order. An attention
    trial replaces one candidate with a degraded copy of another (that copy must be ranked last)."""
    k = max(2, min(k, len(methods)))
    rng = np.random.default_rng([seed, slot])
    start = slot * per_participant
    first, last = start // len(items), (start + per_participant - 1) // len(items)
    seq = [int(i) for copy in range(first, last + 1) for i in _item_order(seed, copy, len(items))]
    offset = start - first * len(items)
    out = []
    for n, idx in enumerate(seq[offset:offset + per_participant]):
        chosen = [methods[int(j)] for j in rng.permutation(len(methods))[:k]]
        out.append(dict(item=items[idx], candidates=chosen, attention=False))
        if attention_every and (n + 1) % attention_every == 0:
            item = items[int(rng.integers(len(items)))]
            chosen = [methods[int(j)] for j in rng.permutation(len(methods))[:k]]
            copy_of = chosen[0]
            chosen[-1] = (DEGRADED, copy_of)
            perm = rng.permutation(k)
            out.append(dict(item=item, candidates=[chosen[int(j)] for j in perm], attention=True))
    return out


def _item_order(seed: int, copy: int, n_items: int) -> np.ndarray:
    """The order of the ``copy``-th shuffled copy of the items: computed on its own (no earlier copy
    needed), so dealing participant ``slot``'s block costs the same for every slot."""
    return np.random.default_rng([seed, copy, 11]).permutation(n_items)


def practice_picks(methods: list[int], items: list[int], count: int, seed: int, slot: int) -> list[tuple]:
    """Practice trials as (item, every method in random order); the study's kind makes each a trial."""
    rng = np.random.default_rng([seed, slot, 7])
    out = []
    for _ in range(count):
        item = items[int(rng.integers(len(items)))]
        out.append((item, [methods[int(j)] for j in rng.permutation(len(methods))]))
    return out


def adaptive_pair(counts: np.ndarray, methods: list[int], item_counts: dict[int, int], items: list[int],
                  rng: np.random.Generator) -> dict:
    """The most informative pair now (expected information gain) on the least-judged item."""
    a, b = next_pair(counts, names=methods, seed=int(rng.integers(2**31)))
    fewest = min(item_counts.get(i, 0) for i in items)
    candidates = [i for i in items if item_counts.get(i, 0) == fewest]
    item = candidates[int(rng.integers(len(candidates)))]
    if rng.random() < 0.5:
        a, b = b, a
    return dict(item=item, left=a, right=b, attention=False)
