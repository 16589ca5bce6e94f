"""Where refusals become HTTP responses: DRF's exception handler and a middleware for plain views.

Every error answers ``{"detail": "<clear message>"}`` (plus ``"errors"`` with per-field messages
where there are some).
"""

from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from webapp.refusal import Refusal


def _flatten(errors, prefix=""):
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = "" if key == "non_field_errors" else f"{prefix}{key}"
            yield from _flatten(value, f"{name}." if name else "")
    elif isinstance(errors, list):
        for value in errors:
            yield from _flatten(value, prefix)
    else:
        yield f"{prefix[:-1]}: {errors}" if prefix else str(errors)


def exception_handler(exc, context):
    if isinstance(exc, Refusal):
        return _with_retry_after(Response(exc.as_dict(), status=exc.status), exc)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict | list) and "detail" not in (
        response.data if isinstance(response.data, dict) else {}
    ):
        messages = list(_flatten(response.data))
        response.data = {"detail": "; ".join(messages) or "Invalid request.", "errors": response.data}
    return response


def _with_retry_after(response, refusal: Refusal):
    """A rate limit or quota (``TooMany``) says when to try again."""
    retry_after = getattr(refusal, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def refusal_response(refusal: Refusal) -> JsonResponse:
    response = JsonResponse(refusal.as_dict(), status=refusal.status)
    response["Cache-Control"] = "no-store"
    return _with_retry_after(response, refusal)


class RefusalMiddleware(MiddlewareMixin):
    """Plain Django views (pages, the participant API) raise refusals too; answer them as JSON.

    MiddlewareMixin keeps async views async: only ``process_exception`` is defined, so nothing
    runs per request but the call through."""

    def process_exception(self, request, exception):
        if isinstance(exception, Refusal):
            return refusal_response(exception)
        return None
