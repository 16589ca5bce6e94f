"""Statistics of pairwise and ranking preference studies (pure numpy/scipy, no Django).

Count matrices follow choix's convention C[i, j] = times i was preferred over j; ties count
1/2 each way.  See docs/statistics.md.
"""

from .agreement import agreement_u, circular_triads, consistency, max_circular_triads
from .bootstrap import bootstrap_ci, percentile_ci, resample_counts
from .bradley_terry import BT_PRIOR_SD, bradley_terry
from .data import counts_from_pairs, votes_table
from .design import balanced_schedule, expected_information_gain, next_pair, simulate_adaptive
from .outliers import loo_loglik, outlier_participants
from .ranking import analyse_rankings, mean_rank, ranking_score, rankings_to_votes
from .rates import comparisons, preference_rate, win_rate
from .report import analyse_counts, analyse_matrix, analyse_votes, format_report, to_json
from .significance import binomial_matrix, holm, wald_matrix
from .thurstone import JOD_PER_Z, THURSTONE_PRIOR_SD, thurstone, thurstone_least_squares

__all__ = [
    "BT_PRIOR_SD", "JOD_PER_Z", "THURSTONE_PRIOR_SD",
    "agreement_u", "analyse_counts", "analyse_matrix", "analyse_rankings", "analyse_votes",
    "balanced_schedule", "binomial_matrix", "bootstrap_ci", "bradley_terry", "circular_triads",
    "comparisons", "consistency", "counts_from_pairs", "expected_information_gain", "format_report", "holm",
    "loo_loglik", "max_circular_triads", "mean_rank", "next_pair", "outlier_participants", "percentile_ci",
    "preference_rate", "ranking_score", "rankings_to_votes", "resample_counts", "simulate_adaptive",
    "thurstone", "thurstone_least_squares", "to_json", "votes_table", "wald_matrix", "win_rate",
]
