"""Browser pages. They render a shell; data arrives through the same REST API and WebSockets."""

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

import inference.engines as engines
from webapp.accounts.permissions import user_has_role
from webapp.photos.selectors import photos_visible_to
from webapp.photos.serializers import PhotoSerializer

STAFF = ("researcher", "expert", "reviewer")


def home(request):
    return render(request, "home.html", {"engines": [engines.spec(n) for n in engines.names()
                                                     if not n.startswith("diagnostics.")]})


def _staff_only(request):
    if not user_has_role(request.user, *STAFF):
        raise PermissionDenied("Your role cannot open this page.")


@login_required
def photo_library(request):
    _staff_only(request)
    return render(request, "photos/library.html", {
        "can_upload": user_has_role(request.user, "researcher"),
    })


@login_required
def photo_page(request, pk: int):
    _staff_only(request)
    photo = get_object_or_404(photos_visible_to(request.user), pk=pk)
    adjust = engines.spec("adjust")
    sliders = [{"name": name, **decl} for name, decl in adjust.params.items() if decl.get("type") != "curve"]
    return render(request, "photos/photo.html", {
        "photo": photo,
        "photo_json": json.dumps(PhotoSerializer(photo).data, default=str),
        "sliders": sliders,
        "can_run": user_has_role(request.user, "researcher", "expert"),
    })


def try_background(request):
    """/try/background/ (background.replace): for the roles that may use the /try/ pages (guests
    included); anyone else sees a sign-in prompt (403 for a signed-in role without access)."""
    from webapp.interactive.views import try_context

    context = try_context(request)
    return render(request, "try/background.html", context,
                  status=200 if context["allowed"] or not request.user.is_authenticated else 403)
