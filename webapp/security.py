"""Security headers Django's own middleware does not add, and secrets kept out of the logs.

* ``ContentSecurityPolicyMiddleware``: every HTML page gets a Content-Security-Policy: scripts,
  styles, images and connections from this origin only (plus the S3 media origin when media live
  there, ``CSP_MEDIA_ORIGINS``); no inline script, no plugins, no framing, forms post here only.
  Scripts may compile WebAssembly (``'wasm-unsafe-eval'``: the live preview's SIMD kernel).
  Style *attributes* are allowed (the templates use a few), ``<style>`` elements are not.
* ``StaticFilesHandler``: static files are served before any middleware runs, so they get their
  ``X-Content-Type-Options: nosniff`` (and the policy's framing refusal) here.
* ``RedactSecretsFilter``: uvicorn logs every request line with its query string; the filter
  replaces the values of ``token``, ``ticket``, ``participant_token``, ``password`` and ``key``
  parameters with ``[redacted]`` before any handler formats the record.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.utils.deprecation import MiddlewareMixin


def content_security_policy() -> str:
    media = " ".join(settings.CSP_MEDIA_ORIGINS)
    extra = f" {media}" if media else ""
    return "; ".join([
        "default-src 'self'",
        # 'wasm-unsafe-eval' lets a page compile WebAssembly (the preview's SIMD kernel,
        # frontend/static/js/preview-kernel.wasm, fetched from this origin); it allows no JS eval.
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        f"img-src 'self' data: blob:{extra}",
        f"connect-src 'self'{extra}",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    def process_response(self, request, response):
        if "text/html" in response.get("Content-Type", "") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy()
        return response


class StaticFilesHandler(ASGIStaticFilesHandler):
    def serve(self, request):
        response = super().serve(request)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response


_SECRET_PARAMS = re.compile(r"([?&](?:token|ticket|participant_token|password|key)=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction(names=("uvicorn.access", "uvicorn.error", "django.request", "django.server")) -> None:
    """Idempotent: attach the filter to the loggers that print request paths."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
