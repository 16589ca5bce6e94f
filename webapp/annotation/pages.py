"""The workspace's browser pages: shells filled from /api/annotation/ by their ES modules."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from webapp.accounts.permissions import user_has_role
from webapp.annotation import selectors
from webapp.photos.models import PhotoGroup


def _staff(request, *roles):
    if not user_has_role(request.user, *(roles or ("researcher", "expert", "reviewer"))):
        raise PermissionDenied("Your role cannot open this page.")


@login_required
def index(request):
    """An expert's queue, a reviewer's work waiting for review, a researcher's projects."""
    _staff(request)
    return render(request, "annotation/index.html", {
        "role": "researcher" if request.user.is_superuser else request.user.role,
        "groups": PhotoGroup.objects.all()[:200] if user_has_role(request.user, "researcher") else [],
    })


@login_required
def project_page(request, pk: int):
    _staff(request, "researcher", "reviewer")
    project = selectors.project_for(request.user, pk)
    qa = project.qa or {}
    return render(request, "annotation/project.html", {
        "project": project, "is_owner": project.owner_id == request.user.pk or request.user.is_superuser,
        # the form shows fractions as percentages
        "glc_limit": f"{float(qa.get('max_glc', 30.0)):g}",
        "clip_percent": f"{100 * float(qa.get('max_clipped_fraction', 0.02)):g}",
        "extreme_percent": f"{100 * float(qa.get('extreme_fraction', 0.95)):g}"})


@login_required
def editor_page(request, pk: int):
    _staff(request)
    assignment = selectors.assignment_for(request.user, pk)
    if user_has_role(request.user, "reviewer") and not request.user.is_superuser:
        return redirect("annotation-review-page", pk=assignment.pk)
    return render(request, "annotation/editor.html", {"assignment": assignment})


@login_required
def review_page(request, pk: int):
    _staff(request, "researcher", "reviewer")
    assignment = selectors.assignment_for(request.user, pk)
    return render(request, "annotation/review.html", {"assignment": assignment,
                                                      "can_review": user_has_role(request.user, "reviewer")})


@login_required
def composites_page(request, pk: int):
    """The harmonization composite builder (the project's owner)."""
    _staff(request, "researcher")
    project = selectors.project_for(request.user, pk, owner=True)
    return render(request, "annotation/composites.html", {"project": project})
