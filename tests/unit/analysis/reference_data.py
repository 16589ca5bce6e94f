"""Published reference data shared by the analysis tests."""

import numpy as np

# Agresti, Categorical Data Analysis (2nd ed., 2002), Sec. 10.6 (also Agresti 1990, Table 10.10):
# 1987 American League East, wins of the row team over the column team (13 games per pair).
TEAMS = ["Milwaukee", "Detroit", "Toronto", "New York", "Boston", "Cleveland", "Baltimore"]
BASEBALL = np.array([
    [0, 7, 9, 7, 7, 9, 11],
    [6, 0, 7, 5, 11, 9, 9],
    [4, 6, 0, 7, 7, 8, 12],
    [6, 8, 6, 0, 6, 7, 10],
    [6, 2, 6, 7, 0, 7, 12],
    [4, 4, 5, 6, 6, 0, 6],
    [2, 4, 1, 3, 1, 7, 0],
], dtype=float)
# Published ML estimates with Baltimore as the baseline (beta_Baltimore = 0).
AGRESTI_BETA = [1.58, 1.44, 1.29, 1.25, 1.11, 0.68, 0.00]
