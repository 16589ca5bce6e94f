"""``manage.py demo_study`` as the README runs it: the study belongs to the demo user who signs in after
``make run`` (created, with the password printed, when the command runs first), and the command ends
with the study's results page and participant link."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


@pytest.fixture
def quick_simulation(monkeypatch):
    """The command's wiring without 150 simulated images: a study of no items, nobody answering."""
    from studies import setup, simulation

    monkeypatch.setattr(simulation, "build_study", lambda owner, **kw: setup.create_study(owner=owner, title="demo"))
    monkeypatch.setattr(simulation, "simulate", lambda study, participants, seed=0: None)


def _run(*args) -> list[str]:
    out = io.StringIO()
    call_command("demo_study", *args, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.mark.django_db
def test_demo_study_belongs_to_the_demo_user_and_prints_its_links(quick_simulation, settings, tmp_path):
    from studies.models import Study
    from webapp.accounts.models import User

    settings.DATA_DIR = tmp_path
    lines = _run("--participants", "20", "--seed", "1")
    study = Study.objects.get()
    assert study.owner.username == "demo" and study.owner.role == "researcher"
    password = (tmp_path / "demo_password").read_text().strip()
    assert User.objects.get(username="demo").check_password(password)
    assert f"Sign in as demo / {password}" in lines[0]  # as `make run` would have said
    assert lines[-3] == f"Results (sign in as demo): http://127.0.0.1:8000/studies/{study.pk}/results/"
    assert lines[-2].endswith(f": http://127.0.0.1:8000/s/{study.public_id}/")
    assert lines[-1] == f"study {study.pk} {study.public_id}"

    again = _run("--participants", "0", "--open", "3", "--base-url", "https://lab.example/")
    assert not any("Sign in as" in line for line in again)  # the account exists: no new password
    second = Study.objects.exclude(pk=study.pk).get()
    assert second.owner.username == "demo" and second.status != "closed"  # left as built: open
    assert again[-2] == f"Participant link: https://lab.example/s/{second.public_id}/"


@pytest.mark.django_db
def test_demo_study_for_another_owner(quick_simulation, make_user, settings, tmp_path):
    from studies.models import Study

    settings.DATA_DIR = tmp_path
    lines = _run("--owner", "ana")
    assert Study.objects.get().owner.username == "ana"
    assert any("manage.py adduser ana" in line for line in lines)
    assert not (tmp_path / "demo_password").exists()
    make_user("expert", username="eve")
    with pytest.raises(CommandError, match="not a researcher"):
        _run("--owner", "eve")
