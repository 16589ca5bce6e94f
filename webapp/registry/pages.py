"""The registry's browser pages: shells filled from /api/models/ by frontend/static/js/models.js."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from webapp.accounts.permissions import user_has_role
from webapp.registry import selectors


def _researcher(request):
    if not user_has_role(request.user, "researcher"):
        raise PermissionDenied("Only researchers train and compare models.")


@login_required
def model_index(request):
    _researcher(request)
    return render(request, "registry/models.html", {"run": None})


@login_required
def model_page(request, pk: int):
    _researcher(request)
    return render(request, "registry/models.html", {"run": get_object_or_404(selectors.runs_for(request.user), pk=pk)})
