"""Developer tools, run from a checkout and never installed: benchmarks (``devtools.bench``) and the
process helpers (``devtools.processes``) that benchmarks and the test suite share.

Not listed in pyproject's ``[tool.setuptools.packages.find]``: the apps do not depend on it.
"""
