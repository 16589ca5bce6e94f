"""Browser pages of the studies app (researchers' list, setup and results; the participant page):
shells that talk to the same API."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.views.decorators.clickjacking import xframe_options_deny

from studies import kinds, participation, provenance, selectors
from studies.models import Study
from webapp.accounts.permissions import user_has_role


def _researcher(request):
    if not user_has_role(request.user, "researcher"):
        raise PermissionDenied("Only researchers run user studies.")


@login_required
def study_list(request):
    _researcher(request)
    return render(request, "studies/list.html", {"kinds": kinds.CHOICES})


@login_required
def study_setup(request, pk: int):
    _researcher(request)
    study = get_object_or_404(selectors.studies_for(request.user), pk=pk)
    return render(request, "studies/setup.html", {"study": study, "kinds": kinds.CHOICES})


@login_required
def study_results(request, pk: int):
    _researcher(request)
    study = get_object_or_404(selectors.studies_for(request.user), pk=pk)
    # links back to what the study judged (e.g. model versions: webapp.registry), told by their apps
    return render(request, "studies/results.html", {"study": study, "origin": provenance.origin(study)})


@xframe_options_deny
def participate(request, public_id: str):
    """The participant page; 404 (the participant error page) for a bad link, 410 for a closed study,
    whose page still runs: a participant who finished sees their completion code again."""
    study = get_object_or_404(Study, public_id=public_id)
    closed = study.status == Study.Status.CLOSED
    return render(request, "studies/participate.html", {
        "public_id": study.public_id, "title": study.title, "kind_module": static(kinds.of(study).page_module),
        "closed": participation.not_open_message(study) if closed else ""}, status=410 if closed else 200)
