"""Sign-in and credentials (issue 11, items 7, 8 and 11): throttled sign-in, password validators on
every path, expiring and revocable tokens, single-use WebSocket tickets, private files."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from webapp.accounts import tokens
from webapp.accounts.services import create_or_update_user, token_for
from webapp.refusal import Refusal

PASSWORD = "pw-right-4821"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    # Nothing here is about the hash itself, but the lockout tests sign in dozens of times:
    # PBKDF2's deliberate cost (~0.3 s a check) made them the slowest unit tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # sign-in failure counters live in the cache; never leak them into other tests
    yield
    cache.clear()


def _sign_in(client, username, password, address="10.0.0.1"):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json",
                       REMOTE_ADDR=address)


# ---------------------------------------------------------------- item 7: throttled sign-in

@pytest.mark.django_db
def test_forty_wrong_passwords_lock_the_token_endpoint_even_for_the_right_one(make_user):
    make_user("researcher", username="ana", password=PASSWORD)
    client = APIClient()
    answers = [_sign_in(client, "ana", "wrong").status_code for _ in range(40)]
    assert answers[:10] == [400] * 10 and set(answers[10:]) == {429}
    locked = _sign_in(client, "ana", PASSWORD)
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.json()["detail"]
    # the lock is per username: another user at the same address is still let in (under the IP cap)
    make_user("reviewer", username="rex", password=PASSWORD)
    assert _sign_in(client, "rex", PASSWORD).status_code == 200


@pytest.mark.django_db
def test_one_address_trying_many_usernames_is_locked(make_user, settings):
    make_user("researcher", username="ana", password=PASSWORD)
    client = APIClient()
    for i in range(settings.LOGIN_MAX_FAILURES_PER_IP):
        assert _sign_in(client, f"user{i}", "wrong").status_code == 400
    assert _sign_in(client, "ana", PASSWORD).status_code == 429
    # a client cannot pose as another address with its own X-Forwarded-For (NUM_PROXIES is 0)
    spoofed = client.post("/api/auth/token/", {"username": "ana", "password": PASSWORD}, format="json",
                          REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert spoofed.status_code == 429
    assert _sign_in(client, "ana", PASSWORD, address="10.0.0.2").status_code == 200  # another address


@pytest.mark.django_db
def test_a_success_clears_the_username_count(make_user):
    make_user("researcher", username="ana", password=PASSWORD)
    client = APIClient()
    for _ in range(9):
        _sign_in(client, "ana", "wrong")
    assert _sign_in(client, "ana", PASSWORD).status_code == 200
    assert [_sign_in(client, "ana", "wrong").status_code for _ in range(9)] == [400] * 9


@pytest.mark.django_db
def test_signin_page_is_throttled_too(client, make_user):
    make_user("reviewer", username="rex", password=PASSWORD)
    for _ in range(40):
        assert client.post("/signin/", {"username": "rex", "password": "wrong"}).status_code in (200, 429)
    page = client.post("/signin/", {"username": "rex", "password": PASSWORD})
    assert page.status_code == 429 and b"Too many failed sign-ins" in page.content
    assert "_auth_user_id" not in client.session


def test_the_anonymous_throttle_has_a_rate(settings):
    from rest_framework.throttling import AnonRateThrottle

    assert AnonRateThrottle().rate  # DRF skips throttling when the rate is None


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["a", "12345678", "password", "ana-ana"])
def test_weak_passwords_are_refused_everywhere(password, client_for):
    with pytest.raises(CommandError, match="too weak"):
        call_command("adduser", "ana", "--role", "reviewer", "--password", password)
    with pytest.raises(Refusal, match="too weak"):
        create_or_update_user("ana", role="reviewer", password=password)
    user = create_or_update_user("ana", role="reviewer", password=PASSWORD)
    response = client_for(user).post("/api/auth/password/", {"old_password": PASSWORD, "new_password": password},
                                     format="json")
    assert response.status_code == 400 and "too weak" in response.json()["detail"]


# ---------------------------------------------------------------- item 8: tokens and tickets

@pytest.mark.django_db
def test_token_answer_tells_when_it_expires(make_user, settings):
    make_user("researcher", username="ana", password=PASSWORD)
    body = _sign_in(APIClient(), "ana", PASSWORD).json()
    assert set(body) == {"token", "role", "expires_at", "expires_in"}
    assert settings.API_TOKEN_TTL_SECONDS - 5 <= body["expires_in"] <= settings.API_TOKEN_TTL_SECONDS


@pytest.mark.django_db
def test_an_expired_token_is_refused_and_a_new_sign_in_issues_another(make_user, settings):
    user = make_user("researcher", username="ana", password=PASSWORD)
    old = token_for(user)
    Token.objects.filter(key=old).update(created=timezone.now() - timedelta(seconds=settings.API_TOKEN_TTL_SECONDS + 1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    refused = client.get("/api/me/")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    fresh = _sign_in(APIClient(), "ana", PASSWORD).json()["token"]
    assert fresh != old
    client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
    assert client.get("/api/me/").status_code == 200


@pytest.mark.django_db
def test_a_password_change_rotates_the_token(make_user):
    user = make_user("researcher", username="ana", password=PASSWORD)
    old = token_for(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    changed = client.post("/api/auth/password/", {"old_password": PASSWORD, "new_password": "pw-new-90210"},
                          format="json")
    assert changed.status_code == 200 and changed.json()["token"] != old
    assert client.get("/api/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {changed.json()['token']}")
    assert client.get("/api/me/").status_code == 200
    # any other path that sets a password revokes too (adduser, the admin, changepassword)
    user.refresh_from_db()
    user.set_password("pw-third-7731")
    user.save()
    assert client.get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_a_wrong_current_password_changes_nothing(make_user, client_for):
    user = make_user("researcher", username="ana", password=PASSWORD)
    client = client_for(user)
    response = client.post("/api/auth/password/", {"old_password": "nope", "new_password": "pw-new-90210"},
                           format="json")
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and client.get("/api/me/").status_code == 200


@pytest.mark.django_db
def test_signing_out_revokes_the_token(make_user, client):
    user = make_user("researcher", username="ana", password=PASSWORD)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    assert api.delete("/api/auth/token/").status_code == 204
    assert api.get("/api/me/").status_code == 401
    # the browser's sign-out too
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    client.force_login(user)
    assert client.post("/signout/").status_code == 302
    assert api.get("/api/me/").status_code == 401


@pytest.mark.django_db
def test_socket_tickets_are_single_use_and_short_lived(make_user, client_for, settings):
    user = make_user("researcher")
    response = client_for(user).post("/api/auth/ws-ticket/")
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    ticket = response.json()["ticket"]
    assert tokens.redeem_ticket(ticket) == user
    assert tokens.redeem_ticket(ticket) is None  # used up
    late, _ = tokens.issue_ticket(user)
    from webapp.accounts.models import SocketTicket

    SocketTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tokens.redeem_ticket(late) is None
    assert APIClient().post("/api/auth/ws-ticket/").status_code == 401


# ---------------------------------------------------------------- item 11: files with secrets

def test_secret_files_are_created_private_before_anything_is_written(tmp_path, monkeypatch):
    import os

    from webapp import private_files

    modes = []
    real_fdopen = os.fdopen

    def spy(fd, *args, **kwargs):  # the mode at the moment the secret is about to be written
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(private_files.os, "fdopen", spy)
    old = os.umask(0o022)
    try:
        key = private_files.read_or_create_secret(tmp_path / "secret_key", lambda: "k" * 60)
        private_files.ensure_private(tmp_path / "db.sqlite3")
    finally:
        os.umask(old)
    assert key == "k" * 60 and modes == [0o600]
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "db.sqlite3").stat().st_mode) == 0o600
    (tmp_path / "db.sqlite3").chmod(0o644)  # a database left world-readable by an older version
    private_files.ensure_private(tmp_path / "db.sqlite3")
    assert stat.S_IMODE((tmp_path / "db.sqlite3").stat().st_mode) == 0o600


def test_a_fresh_data_dir_gets_a_private_database_and_key(tmp_path):
    import subprocess

    from tests.support import PYTHON, REPO, base_env

    env = base_env(DATA_DIR=str(tmp_path))
    env.pop("SECRET_KEY", None)
    # one small app's migrations: the first command creates and writes both files, as a full migrate would
    subprocess.run([PYTHON, "manage.py", "migrate", "contenttypes", "--verbosity", "0"], cwd=REPO, env=env,
                   check=True, timeout=120)
    for name in ("db.sqlite3", "secret_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


@pytest.mark.django_db
def test_the_demo_password_is_printed_once(settings, tmp_path, monkeypatch):
    from webapp.pages import first_run

    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(first_run, "_sample_photos", lambda: [])
    first = " ".join(first_run.ensure_demo_content())
    password = (tmp_path / "demo_password").read_text()
    assert password in first and stat.S_IMODE((tmp_path / "demo_password").stat().st_mode) == 0o600
    second = " ".join(first_run.ensure_demo_content())
    assert password not in second and str(tmp_path / "demo_password") in second
