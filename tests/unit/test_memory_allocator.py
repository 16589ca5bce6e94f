"""The platform's processes keep freed memory for the next full-resolution image (inference/memory.py)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")


def _python(code: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@glibc_only
def test_importing_the_platform_sets_the_allocator_before_any_thread():
    assert _python("import threading, webapp; from inference import memory; "
                   "print(memory._kept, threading.active_count())") == "True 1"


@glibc_only
def test_the_setting_turns_it_off():
    out = _python("import webapp; from inference import memory; print(memory._kept, memory.keep_freed_memory())",
                  PORTRAIT_LAB_RETURN_FREED_MEMORY="1")
    assert out == "False False"
