"""Property-based requests over the OpenAPI schema (issue 11, item 14): schemathesis generates valid
and invalid requests for every operation ``/api/schema/`` describes (request bodies included) and no
answer may be a 5xx. Bounded by example counts, not by the clock: EXAMPLES_PER_OPERATION valid and as
many invalid requests per operation, derandomised (the same requests every run), about 1,000 requests
in all: under a minute on the 2-core machine."""

from __future__ import annotations

import itertools
import logging

import pytest

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES_PER_OPERATION = 6  # per operation and mode (valid / invalid requests)


@pytest.fixture
def fast_hasher(settings):
    """The sign-in and password operations hash every generated password: not what this test is
    about, and PBKDF2's deliberate cost made them most of its time. Set before any user is made."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fuzz_setup(fast_hasher, researcher, uploaded_photo):
    """A researcher with a photo, a job, a session and a study, so ids in paths sometimes exist."""
    from django.core.cache import cache

    from studies.setup import create_study
    from webapp.interactive.services import create_session
    from webapp.jobs.services import create_job

    owner = uploaded_photo.owner
    create_job(owner=owner, engine="adjust", inputs={"photo": uploaded_photo.pk})
    create_session(owner=owner, photo_id=uploaded_photo.pk, engine="retouch.interactive")
    create_study(owner=owner, title="fuzzed")
    requests_log = logging.getLogger("django.request")
    level = requests_log.level
    requests_log.setLevel(logging.ERROR)  # hundreds of expected 4xx warnings; a 5xx still logs
    yield owner
    requests_log.setLevel(level)
    cache.clear()  # the sign-in throttle counted the generated failures


@pytest.mark.django_db
def test_no_operation_answers_5xx(fuzz_setup, monkeypatch):
    from django.core.wsgi import get_wsgi_application
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    from webapp.accounts.services import token_for
    from webapp.celery import app as celery_app

    monkeypatch.setattr(celery_app, "send_task", lambda *a, **k: None)  # jobs and clicks go nowhere
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    headers = {"Authorization": f"Token {token_for(fuzz_setup)}"}
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            response = case.call(headers=headers)
            if response.status_code >= 500:
                server_errors.append(f"{case.method} {case.formatted_path} → {response.status_code}: "
                                     f"{case.body!r:.200}")

        try:
            check()
        except Unsatisfiable:  # an operation whose every input is valid has no negative cases
            assert mode == GenerationMode.NEGATIVE
    assert server_errors == []
