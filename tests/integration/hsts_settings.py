"""``webapp.settings`` with HSTS on, as an HTTPS deployment sends it: the fast-path parity test
(``test_studies_hardening.py``) checks that both paths add it to HTTPS requests."""

from webapp.settings import *  # noqa: F403

SECURE_HSTS_SECONDS = 3600
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
