"""Reads for the annotation workspace; who may see what lives here.

* An expert sees only the assignments given to them — never another slot's edits (404).
* A reviewer sees work that has been submitted at least once (in review, changes requested,
  accepted, frozen), unclaimed or claimed by them, and all the slots of those groups side by side.
* A researcher sees everything in the projects they own (a superuser sees every project).
"""

from __future__ import annotations

from django.db.models import Q

from webapp.accounts.permissions import user_has_role
from webapp.annotation.models import AnnotationProject, Assignment, Edit, ReviewIssue
from webapp.annotation.rendering import identity_params
from webapp.photos.models import Photo
from webapp.refusal import NotFound

State = Assignment.State
SUBMITTED = (State.IN_REVIEW, State.CHANGES_REQUESTED, State.ACCEPTED, State.FROZEN)


def _reviewable(user) -> Q:
    return Q(state__in=SUBMITTED) & (Q(reviewer__isnull=True) | Q(reviewer=user))


def assignments_visible_to(user):
    base = Assignment.objects.select_related("project", "project_group__group", "expert", "reviewer")
    if user.is_superuser:
        return base
    if user_has_role(user, "researcher"):
        return base.filter(project__owner=user)
    if user_has_role(user, "expert"):
        return base.filter(expert=user)
    if user_has_role(user, "reviewer"):
        reviewable_groups = Assignment.objects.filter(_reviewable(user)).values("project_group")
        return base.filter(project_group__in=reviewable_groups, state__in=SUBMITTED)
    return base.none()


def queue_for(user):
    """``GET /api/annotation/assignments/``: an expert's own queue, a reviewer's work waiting for
    review, a researcher's assignments in their projects."""
    visible = assignments_visible_to(user)
    if user_has_role(user, "reviewer") and not user.is_superuser:
        return visible.filter(_reviewable(user), state=State.IN_REVIEW)
    if user_has_role(user, "expert") and not user.is_superuser:
        return visible.exclude(state__in=[State.QUEUED, State.FROZEN])
    return visible


def assignment_for(user, pk) -> Assignment:
    assignment = assignments_visible_to(user).filter(pk=pk).first()
    if assignment is None:
        raise NotFound("No such assignment, or it is not yours to see.")
    return assignment


def projects_visible_to(user):
    if user.is_superuser:
        return AnnotationProject.objects.all()
    if user_has_role(user, "researcher"):
        return AnnotationProject.objects.filter(owner=user)
    if user_has_role(user, "reviewer"):
        return AnnotationProject.objects.filter(pk__in=assignments_visible_to(user).values("project"))
    return AnnotationProject.objects.none()


def project_for(user, pk, *, owner: bool = False) -> AnnotationProject:
    """A project ``user`` may see (``owner``: one they own, or any for a superuser)."""
    scope = projects_visible_to(user)
    if owner and not user.is_superuser:
        scope = scope.filter(owner=user)
    project = scope.filter(pk=pk).first()
    if project is None:
        raise NotFound("No such project, or it is not yours.")
    return project


def assignment_photos(assignment: Assignment) -> list[Photo]:
    """The group's photos (PPR10K index order: by id) then the hidden duplicates, shuffled in by id
    order so nothing marks them out."""
    group = list(Photo.objects.filter(group=assignment.project_group.group).order_by("id"))
    extra = list(Photo.objects.filter(pk__in=assignment.duplicates).order_by("id"))
    return sorted(group + extra, key=lambda p: p.pk)


def group_photos(project_group) -> list[Photo]:
    return list(Photo.objects.filter(group=project_group.group).order_by("id"))


def photos_by_group(project_groups: dict) -> dict:
    """``{key: ProjectGroup}`` → ``{key: [its photos by id]}`` in one query."""
    found: dict[int, list[Photo]] = {pg.group_id: [] for pg in project_groups.values()}
    for photo in Photo.objects.filter(group_id__in=list(found)).order_by("id"):
        found[photo.group_id].append(photo)
    return {key: found[pg.group_id] for key, pg in project_groups.items()}


def photo_of(assignment: Assignment, photo_id) -> Photo:
    photo = next((p for p in assignment_photos(assignment) if p.pk == photo_id), None)
    if photo is None:
        raise NotFound("That photo is not part of this assignment.")
    return photo


def current_edits(assignments) -> dict[tuple[int, int], Edit]:
    """(assignment id, photo id) → newest edit by the assignment's current expert."""
    assignments = list(assignments)
    experts = {a.pk: a.expert_id for a in assignments}
    found: dict[tuple[int, int], Edit] = {}
    edits = (Edit.objects.filter(assignment__in=assignments).select_related("photo", "assignment__project")
             .order_by("version"))
    for edit in edits:
        if edit.author_id in (experts[edit.assignment_id], None):
            found[(edit.assignment_id, edit.photo_id)] = edit
    return found


def current_params(assignment: Assignment, photo: Photo) -> tuple[dict, Edit | None]:
    edit = (Edit.objects.filter(assignment=assignment, photo=photo)
            .filter(Q(author=assignment.expert) | Q(author__isnull=True)).order_by("-version").first())
    return (dict(edit.params) if edit else identity_params()), edit


def history(assignment: Assignment, photo: Photo):
    return Edit.objects.filter(assignment=assignment, photo=photo).order_by("version")


def open_issues(assignment: Assignment):
    return assignment.issues.filter(state__in=ReviewIssue.UNRESOLVED)
