"""Fixtures for every level of test: in-process API clients, real server processes, real browsers."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.support import CHROMIUM, CHROMIUM_ARGS, need_chromium


# tryfirst: pytest-xdist reads the xdist_group marks in its own collection hook (it appends the group
# to each node id there); run after it, the marks below would be silently ignored.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Integration, then unit, then browser tests.

    Integration first: under xdist their serial group then starts at once on one worker and runs
    beside the rest instead of after it (it is the longest single chain).

    Playwright's sync API keeps an event loop running in the main thread while the (session-wide)
    browser is open, which would break ``asyncio.run`` in any later non-browser test.
    """
    order = {"integration": 0, "unit": 1, "browser": 2}

    def level(item):
        parts = item.nodeid.split("/")
        return order.get(parts[1] if len(parts) > 1 and parts[0] == "tests" else "", 1)

    items.sort(key=level)  # stable: keeps file order within each level
    # Under pytest-xdist (`make test` runs two workers) the integration tests share fixed names on the
    # real services (Celery queues "cpu"/"gpu", Redis databases): they run one after another on one
    # worker, as one group, while the other worker takes unit and browser tests.
    # A module-scoped fixture (a demo study, a signed-in page) is built once per worker that runs one
    # of its module's tests, and the distribution would otherwise split a module across both
    # workers, building it twice (45 s for test_studies_participant's demo study): such modules
    # stay together on one worker.
    for item in items:
        if level(item) == 0:
            item.add_marker(pytest.mark.xdist_group("services"))
        elif _uses_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(f"module:{item.nodeid.split('::')[0]}"))


def pytest_configure(config):
    """Keep the collection order under ``--dist loadgroup``, and refuse a pytest that ignores the groups.

    pytest 9.2 made node ids read-only to plugins, and pytest-xdist (3.8) marks a test's group by
    rewriting its id: together they ignore every xdist_group mark without a word, and the integration
    tests then share Redis databases and Celery queues across workers. Refuse that pair."""
    if os.environ.get("PYTEST_XDIST_WORKER") or config.getoption("dist", "no") != "loadgroup":
        return
    # xdist hands out the largest groups first by default; the order above must hold instead (a browser
    # module's group would otherwise run before the unit tests and leave them Playwright's event loop).
    config.option.loadscopereorder = False
    from importlib.metadata import version

    from packaging.version import Version

    if Version(pytest.__version__) >= Version("9.2") and Version(version("pytest-xdist")) <= Version("3.8.0"):
        raise pytest.UsageError(f"pytest {pytest.__version__} with pytest-xdist {version('pytest-xdist')} ignores "
                                "xdist_group marks: reinstall with pyproject.toml's pins (make install)")


def _uses_a_module_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(defs[-1].scope == "module" for defs in info.name2fixturedefs.values() if defs)


@pytest.fixture(autouse=True)
def _media_in_tmp(request, tmp_path):
    # Files written by in-process tests go to a throwaway folder, never to ./var.
    if request.config.pluginmanager.hasplugin("django"):
        request.getfixturevalue("settings").MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache(request):
    # Rate limits count in the (process-wide) default cache: each test starts with none counted.
    if request.config.pluginmanager.hasplugin("django"):
        from django.core.cache import cache

        cache.clear()


@pytest.fixture
def make_user(db):
    from webapp.accounts.services import create_or_update_user

    def make(role: str = "researcher", username: str | None = None, password: str = "pw-123456"):
        import uuid

        return create_or_update_user(username or f"{role}-{uuid.uuid4().hex[:6]}", role=role, password=password)

    return make


@pytest.fixture
def client_for(db):
    """An API client authenticated with the user's token (None → anonymous)."""
    from rest_framework.test import APIClient

    from webapp.accounts.services import token_for

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return client

    return make


@pytest.fixture
def researcher(make_user):
    return make_user("researcher")


def png_bytes(array: np.ndarray | None = None, size=(48, 32)) -> bytes:
    if array is None:
        rng = np.random.default_rng(0)
        array = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def sample_png() -> bytes:
    return png_bytes()


def websocket_close_code(url: str, origin: str | None = None, token: str | None = None) -> int | None:
    """Connect to a running server's socket (with an API ``token`` in the Authorization header, if
    given): the close code it answers with (None: it stayed open or closed without one); a
    handshake refused over HTTP gives that HTTP status instead."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    try:
        headers = {"Authorization": f"Token {token}"} if token else None
        with connect(url, origin=origin, additional_headers=headers, open_timeout=10) as ws:
            ws.recv(timeout=5)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    except InvalidStatus as exc:
        return exc.response.status_code
    except TimeoutError:
        pass
    return None


@pytest.fixture
def uploaded_photo(researcher):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.photos.services import ingest_photo

    return ingest_photo(upload=SimpleUploadedFile("sample.png", png_bytes()), owner=researcher)


@pytest.fixture(scope="session")
def chromium():
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Platform:
    """A running platform: base URL, its environment, and users made for the test session."""

    def __init__(self, base: str, env: dict, proc):
        self.base, self.env, self.proc = base, env, proc
        self.ws_base = base.replace("http://", "ws://")

    def add_user(self, username: str, role: str, password: str = "pw-123456") -> str:
        from tests.support import manage, token_for

        manage(self.env, "adduser", username, "--role", role, "--password", password)
        return token_for(self.base, username, password)


@pytest.fixture(scope="session")
def embedded_platform(tmp_path_factory):
    """``manage.py serve`` in embedded mode, exactly as the README runs it, on a free port."""
    from tests.support import base_env, start_server

    data_dir = tmp_path_factory.mktemp("embedded-data")
    env = base_env(DATA_DIR=str(data_dir), JOB_STALE_AFTER_SECONDS="10")
    proc, base = start_server(env, data_dir, embedded=True)
    yield Platform(base, env, proc)
    proc.stop()


@pytest.fixture
def page(chromium, request):
    """A fresh browser page; a screenshot is saved under test-artifacts/ for each test."""
    from pathlib import Path

    context = chromium.new_context(viewport={"width": 1360, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    out = Path(__file__).resolve().parents[1] / "test-artifacts"
    out.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(out / f"{request.node.name}.png"))
    except Exception:
        pass
    context.close()
