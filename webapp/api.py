"""API-wide helpers: every error answers ``{"detail": "<clear message>"}``."""

from rest_framework.views import exception_handler as drf_exception_handler


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
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict | list) and "detail" not in (
        response.data if isinstance(response.data, dict) else {}
    ):
        messages = list(_flatten(response.data))
        response.data = {"detail": "; ".join(messages) or "Invalid request.", "errors": response.data}
    return response
