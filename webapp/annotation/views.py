"""The annotation API under /api/annotation/ (docs/api.md, docs/annotation.md). Thin: roles here,
visibility in ``selectors``, every write in ``services``."""

from __future__ import annotations

import csv
import io

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from inference import imageio, xmp
from inference import render as renderer
from webapp.accounts.models import Role, User
from webapp.accounts.permissions import HasRole, IsResearcher, IsStaffMember
from webapp.annotation import composites, reports, selectors, services
from webapp.annotation.models import AnnotationProject
from webapp.annotation.rendering import MAX_CROP_PIXELS, RENDERER_VERSION, SLIDERS, latest_mask, render_crop
from webapp.annotation.serializers import (
    AssignmentSerializer,
    CutoutRequestSerializer,
    EditSerializer,
    ExportSerializer,
    IssueSerializer,
    ProjectCompositeSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectSettingsSerializer,
    ReviewSerializer,
)
from webapp.pagination import paginate
from webapp.photos.models import Mask
from webapp.photos.selectors import photos_visible_to
from webapp.photos.serializers import PhotoSerializer
from webapp.refusal import NotFound, Refusal

IsExpert = HasRole.of(Role.EXPERT)
IsReviewer = HasRole.of(Role.REVIEWER)
ResearcherOrReviewer = HasRole.of(Role.RESEARCHER, Role.REVIEWER)
Detail = inline_serializer("AnnotationDetail", {"detail": serializers.CharField()})


class XmpParser(BaseParser):
    """A sidecar sent as the request body (``Content-Type: application/rdf+xml``)."""

    media_type = "application/rdf+xml"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"xmp": stream.read(xmp.MAX_BYTES + 1)}


class XmlParser(XmpParser):
    media_type = "application/xml"


class TextXmlParser(XmpParser):
    media_type = "text/xml"


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refusal(f"{what} must be an integer id")
    return value


def _mask_url(photo, kind) -> str | None:
    mask = latest_mask(photo, kind)
    return mask.file.url if mask else None


def _photo_entry(assignment, photo, edit, open_issue_photos) -> dict:
    return {
        "id": photo.pk, "width": photo.width, "height": photo.height, "original_name": photo.original_name,
        "urls": {"display": photo.display.url, "working": photo.working.url},
        "masks": {"human": _mask_url(photo, Mask.Kind.HUMAN), "foreground": _mask_url(photo, Mask.Kind.FOREGROUND),
                  "reference": _mask_url(photo, Mask.Kind.REFERENCE)},
        "params": edit.params if edit else None, "version": edit.version if edit else 0,
        "state": "issue" if photo.pk in open_issue_photos else ("edited" if edit else "untouched"),
    }


def assignment_detail(assignment, user) -> dict:
    """Everything the editor needs in one answer."""
    photos = selectors.assignment_photos(assignment)
    edits = selectors.current_edits([assignment])
    issues = list(assignment.issues.select_related("author"))
    open_photos = {i.photo_id for i in issues if i.state in ("open", "reopened")}
    data = AssignmentSerializer(assignment).data
    data.update({
        "editable": assignment.editable and assignment.expert_id == user.pk,
        "photos": [_photo_entry(assignment, p, edits.get((assignment.pk, p.pk)), open_photos) for p in photos],
        "issues": IssueSerializer(issues, many=True).data,
        "sliders": [{"name": k, "min": renderer.PARAMS[k]["min"], "max": renderer.PARAMS[k]["max"],
                     "description": renderer.PARAMS[k]["description"]} for k in SLIDERS],
        "renderer_version": RENDERER_VERSION,
        "qa": assignment.project.qa,
    })
    return data


class AssignmentListView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses=AssignmentSerializer(many=True))
    def get(self, request):
        return paginate(request, self, selectors.queue_for(request.user), AssignmentSerializer)


class AssignmentDetailView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses=AssignmentSerializer)
    def get(self, request, pk: int):
        return Response(assignment_detail(selectors.assignment_for(request.user, pk), request.user))


class AssignView(APIView):
    """POST ``{"expert": user id, "reviewer": user id?}``: assign (or reassign) — researchers only."""

    permission_classes = [IsResearcher]

    @extend_schema(request=inline_serializer("Assign", {"expert": serializers.IntegerField(),
                                                        "reviewer": serializers.IntegerField(required=False)}),
                   responses=AssignmentSerializer)
    def post(self, request, pk: int):
        assignment = selectors.assignment_for(request.user, pk)
        moved = services.assign(assignment=assignment, by=request.user, expert_id=request.data.get("expert"),
                                reviewer_id=request.data.get("reviewer"))
        return Response(AssignmentSerializer(moved).data)


class ReopenView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=AssignmentSerializer)
    def post(self, request, pk: int):
        moved = services.reopen(assignment=selectors.assignment_for(request.user, pk), by=request.user)
        return Response(AssignmentSerializer(moved).data)


class SubmitView(APIView):
    """POST: submit for review; automatic QA failures answer 400 with ``errors.qa``."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=None, responses={200: AssignmentSerializer, 400: Detail, 409: Detail})
    def post(self, request, pk: int):
        moved = services.submit(assignment=selectors.assignment_for(request.user, pk), user=request.user)
        return Response(AssignmentSerializer(moved).data)


class ReviewView(APIView):
    """POST ``{"decision": "accept"|"changes_requested", "issues": [...], "reopen": [issue ids]}``
    (reviewers); GET the comparison of the group's slots (reviewers and the researcher)."""

    def get_permissions(self):
        return [IsReviewer()] if self.request.method == "POST" else [ResearcherOrReviewer()]

    @extend_schema(request=ReviewSerializer, responses=AssignmentSerializer)
    def post(self, request, pk: int):
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = selectors.assignment_for(request.user, pk)
        moved = services.review(assignment=assignment, user=request.user, decision=body.validated_data["decision"],
                                issues=body.validated_data["issues"], reopen_issues=body.validated_data["reopen"])
        return Response(AssignmentSerializer(moved).data)

    @extend_schema(responses=inline_serializer("ReviewData", {"slots": serializers.ListField()}))
    def get(self, request, pk: int):
        return Response(reports.review_view(selectors.assignment_for(request.user, pk), request.user))


def _photo(request, pk: int, photo_id: int):
    assignment = selectors.assignment_for(request.user, pk)
    return assignment, selectors.photo_of(assignment, photo_id)


class ParamsView(APIView):
    """GET the current parameters; PUT ``{"params": {...}}`` to autosave (a new version)."""

    permission_classes = [IsStaffMember]

    @extend_schema(responses=EditSerializer)
    def get(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        params, edit = selectors.current_params(assignment, photo)
        return Response({"photo": photo.pk, "params": params, "version": edit.version if edit else 0,
                         "renderer_version": RENDERER_VERSION})

    @extend_schema(request=inline_serializer("ParamsPut", {"params": serializers.DictField()}),
                   responses={200: EditSerializer, 409: Detail})
    def put(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        edit = services.save_params(assignment=assignment, photo=photo, params=request.data.get("params"),
                                    user=request.user)
        return Response(EditSerializer(edit).data)


class HistoryView(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(responses=EditSerializer(many=True))
    def get(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        return Response(EditSerializer(selectors.history(assignment, photo), many=True).data)


class XmpView(APIView):
    """GET the current edit as a Camera Raw sidecar; PUT one (body, or ``{"xmp": "…"}``) onto the photo."""

    permission_classes = [IsStaffMember]
    parser_classes = [JSONParser, XmpParser, XmlParser, TextXmlParser]

    @extend_schema(responses={(200, "application/rdf+xml"): str})
    def get(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        params, _ = selectors.current_params(assignment, photo)
        stem = (photo.original_name or f"photo-{photo.pk}").rsplit(".", 1)[0]
        response = HttpResponse(xmp.write_xmp(params), content_type="application/rdf+xml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{stem}.xmp"'
        return response

    @extend_schema(request={"application/rdf+xml": str}, responses=EditSerializer)
    def put(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        result = services.import_xmp(assignment=assignment, user=request.user, photo=photo,
                                     text=request.data.get("xmp", ""))
        return Response({**EditSerializer(result["edit"]).data, "unsupported": result["unsupported"],
                         "notes": result["notes"]})


class GroupXmpView(APIView):
    """POST multipart ``files``: sidecars for the group, matched to photos by file name."""

    permission_classes = [IsStaffMember]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": inline_serializer(
        "XmpFiles", {"files": serializers.ListField(child=serializers.FileField())})}, responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        assignment = selectors.assignment_for(request.user, pk)
        files = {f.name: f.read(xmp.MAX_BYTES + 1) for f in request.FILES.getlist("files")}
        return Response(services.import_group_xmp(assignment=assignment, user=request.user, files=files))


class SyncView(APIView):
    """POST ``{"from": photo id, "photos": [ids], "keys": [sliders]}``: copy settings across the group."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=inline_serializer("SyncParams", {
        "from": serializers.IntegerField(), "photos": serializers.ListField(child=serializers.IntegerField()),
        "keys": serializers.ListField(child=serializers.CharField(), required=False)}),
        responses=inline_serializer("SyncedEdits", {"edits": EditSerializer(many=True)}))
    def post(self, request, pk: int):
        assignment = selectors.assignment_for(request.user, pk)
        source = selectors.photo_of(assignment, _int(request.data.get("from"), "from"))
        edits = services.sync_params(assignment=assignment, user=request.user, from_photo=source,
                                     to_photo_ids=request.data.get("photos"), keys=request.data.get("keys"))
        return Response({"edits": EditSerializer(edits, many=True).data})


class MatchToneView(APIView):
    """POST ``{"reference": photo id?, "apply": bool}``: exposure/temperature/tint that bring the
    group's tone together (proposals; saved when ``apply``)."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=inline_serializer("MatchTone", {
        "reference": serializers.IntegerField(required=False, allow_null=True),
        "apply": serializers.BooleanField(required=False)}), responses=OpenApiTypes.OBJECT)
    def post(self, request, pk: int):
        assignment = selectors.assignment_for(request.user, pk)
        reference = request.data.get("reference")
        return Response(services.match_tone(
            assignment=assignment, user=request.user, apply=bool(request.data.get("apply")),
            reference_id=_int(reference, "reference") if reference is not None else None))


class MaskView(APIView):
    """GET the photo's human mask; POST ``{"clicks": [{x, y, positive}]}`` to refine and save it."""

    permission_classes = [IsStaffMember]

    @extend_schema(responses=inline_serializer("HumanMask", {"photo": serializers.IntegerField(),
                                                            "url": serializers.CharField(allow_null=True)}))
    def get(self, request, pk: int, photo_id: int):
        _assignment, photo = _photo(request, pk, photo_id)
        return Response({"photo": photo.pk, "url": _mask_url(photo, Mask.Kind.HUMAN)})

    @extend_schema(request=inline_serializer("MaskClicks", {"clicks": serializers.ListField(child=serializers.DictField())}),
                   responses={201: inline_serializer("RefinedMask", {
                       "photo": serializers.IntegerField(), "mask": serializers.IntegerField(),
                       "url": serializers.CharField()})})
    def post(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        mask = services.refine_mask(assignment=assignment, user=request.user, photo=photo,
                                    clicks=request.data.get("clicks"))
        return Response({"photo": photo.pk, "mask": mask.pk, "url": mask.file.url}, status=status.HTTP_201_CREATED)


class CropView(APIView):
    """POST ``{"params": {...}, "box": [x, y, width, height]}`` → PNG: the parameters rendered on that
    region of the full-resolution original (the editor's 1:1 view). Stores nothing; anyone who may
    see the assignment may ask (an expert for their own work, its reviewer, the researcher)."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=inline_serializer("CropRequest", {
        "params": serializers.DictField(), "box": serializers.ListField(child=serializers.IntegerField(), min_length=4,
                                                                        max_length=4)}),
        responses={(200, "image/png"): OpenApiTypes.BINARY, 400: Detail})
    def post(self, request, pk: int, photo_id: int):
        assignment, photo = _photo(request, pk, photo_id)
        box = request.data.get("box")
        if not isinstance(box, list) or len(box) != 4 or any(isinstance(v, bool) or not isinstance(v, int) for v in box):
            raise Refusal("box must be [x, y, width, height] in whole pixels of the original")
        x, y, w, h = box
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > photo.width or y + h > photo.height:
            raise Refusal(f"box {box} is not inside the photo ({photo.width} × {photo.height} px)")
        if w * h > MAX_CROP_PIXELS:
            raise Refusal(f"box {box} is {w * h:,} px; at most {MAX_CROP_PIXELS:,} px at once")
        params = services.clean_params(request.data.get("params", {}))
        out = render_crop(photo, params, (x, y, w, h), harmonization=assignment.project.kind == AnnotationProject.Kind.HARMONIZATION)
        response = HttpResponse(imageio.encode_png(out), content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response


class IssueResolveView(APIView):
    """POST ``{"apply_suggestion": bool, "reply": "…"}`` (the expert)."""

    permission_classes = [IsStaffMember]

    @extend_schema(request=inline_serializer("IssueResolve", {
        "apply_suggestion": serializers.BooleanField(required=False), "reply": serializers.CharField(required=False)}),
        responses=IssueSerializer)
    def post(self, request, pk: int, issue_id: int):
        assignment = selectors.assignment_for(request.user, pk)
        issue = assignment.issues.filter(pk=issue_id).first()
        if issue is None:
            raise NotFound("No such issue on this assignment.")
        resolved = services.resolve_issue(issue=issue, user=request.user,
                                          apply_suggestion=bool(request.data.get("apply_suggestion")),
                                          reply=str(request.data.get("reply", "")))
        return Response(IssueSerializer(resolved).data)


class ProjectListView(APIView):
    def get_permissions(self):
        return [IsResearcher()] if self.request.method == "POST" else [ResearcherOrReviewer()]

    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request):
        return paginate(request, self, selectors.projects_visible_to(request.user), ProjectSerializer)

    @extend_schema(request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request):
        body = ProjectCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        project = services.create_project(
            owner=request.user, title=d["title"], group_ids=d["groups"], kind=d["kind"], slots=d.get("slots"),
            max_rounds=d["max_rounds"], qa_settings=d.get("qa"), duplicates=d["duplicates"],
            split_seed=d["split_seed"], val_fraction=d["val_fraction"])
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    """GET the project; PATCH ``{"qa": {...}, "max_rounds": n}`` (the owner): settings the next
    submission and review use."""

    def get_permissions(self):
        return [IsResearcher()] if self.request.method == "PATCH" else [ResearcherOrReviewer()]

    @extend_schema(request=ProjectSettingsSerializer, responses={200: ProjectSerializer, 400: Detail})
    def patch(self, request, pk: int):
        body = ProjectSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = services.update_settings(project=selectors.project_for(request.user, pk, owner=True), by=request.user,
                                           qa_settings=body.validated_data.get("qa"),
                                           max_rounds=body.validated_data.get("max_rounds"))
        return Response(ProjectSerializer(project).data)

    @extend_schema(responses=ProjectSerializer)
    def get(self, request, pk: int):
        project = selectors.project_for(request.user, pk)
        data = ProjectSerializer(project).data
        visible = selectors.assignments_visible_to(request.user).filter(project=project)
        data["assignments"] = AssignmentSerializer(visible, many=True).data
        if project.owner_id == request.user.pk or request.user.is_superuser:
            data["people"] = {role: list(User.objects.filter(role=role, is_active=True).order_by("username")
                                         .values("id", "username")) for role in (Role.EXPERT, Role.REVIEWER)}
            data["exports"] = ExportSerializer(project.exports.all()[:10], many=True).data
        return Response(data)


class FreezeView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses=ProjectSerializer)
    def post(self, request, pk: int):
        project = services.freeze(project=selectors.project_for(request.user, pk, owner=True), by=request.user)
        return Response(ProjectSerializer(project).data)


class AgreementView(APIView):
    permission_classes = [ResearcherOrReviewer]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(reports.agreement(selectors.project_for(request.user, pk)))


class DashboardView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        return Response(reports.dashboard(selectors.project_for(request.user, pk, owner=True)))


class DashboardCsvView(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, pk: int):
        data = reports.dashboard(selectors.project_for(request.user, pk, owner=True))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(reports.DASHBOARD_COLUMNS)
        writer.writerows([[row[c] for c in reports.DASHBOARD_COLUMNS] for row in data["rows"]])
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="annotation-progress-{pk}.csv"'
        return response


class ExportDownloadView(APIView):
    """GET the export's zip archive (the project's owner)."""

    permission_classes = [IsResearcher]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, pk: int, export_id: int):
        project = selectors.project_for(request.user, pk, owner=True)
        record = project.exports.filter(pk=export_id).exclude(path="").first()
        if record is None:
            raise NotFound("No such export, or it has not finished.")
        name = f"project-{project.pk}-v{record.dataset_version}.zip"
        return FileResponse(default_storage.open(record.path, "rb"), as_attachment=True, filename=name,
                            content_type="application/zip")


class ExportView(APIView):
    """POST ``{"sizes": ["360p", "full"]}``: start the export job (202); GET the project's exports."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ExportSerializer(many=True))
    def get(self, request, pk: int):
        project = selectors.project_for(request.user, pk, owner=True)
        return Response(ExportSerializer(project.exports.all(), many=True).data)

    @extend_schema(request=inline_serializer("ExportStart", {"sizes": serializers.ListField(required=False)}),
                   responses={202: ExportSerializer, 409: Detail})
    def post(self, request, pk: int):
        project = selectors.project_for(request.user, pk, owner=True)
        record = services.start_export(project=project, by=request.user, sizes=request.data.get("sizes"))
        return Response(ExportSerializer(record).data, status=status.HTTP_202_ACCEPTED)


def _visible_photo(request, photo_id: int, what: str):
    photo = photos_visible_to(request.user).filter(pk=photo_id).first()
    if photo is None:
        raise NotFound(f"{what} must be a photo visible to you")
    return photo


class CutoutView(APIView):
    """POST ``{"photo": id}``: the person of a portrait, for the composite builder (researchers)."""

    permission_classes = [IsResearcher]

    @extend_schema(request=CutoutRequestSerializer, responses=inline_serializer("Cutout", {
        "photo": serializers.IntegerField(), "mask": serializers.IntegerField(), "url": serializers.CharField(),
        "source": serializers.CharField(), "box": serializers.ListField(child=serializers.IntegerField())}))
    def post(self, request):
        body = CutoutRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        photo = _visible_photo(request, body.validated_data["photo"], "photo")
        return Response(composites.cutout(photo=photo, user=request.user))


class CompositeView(APIView):
    """POST ``{"person", "background", "x", "y", "scale", "reference": {"box"|"brush"}, "group" | "group_name"}``:
    build a composite into a group of a harmonization project (its owner)."""

    permission_classes = [IsResearcher]

    @extend_schema(request=ProjectCompositeSerializer, responses={201: OpenApiTypes.OBJECT, 400: Detail, 409: Detail})
    def post(self, request, pk: int):
        project = selectors.project_for(request.user, pk, owner=True)
        body = ProjectCompositeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        person = _visible_photo(request, d["person"], "person")
        background = _visible_photo(request, d["background"], "background")
        made = composites.add_composite(project=project, user=request.user, person=person, background=background,
                                        x=d["x"], y=d["y"], scale=d["scale"], reference=d["reference"],
                                        group=d["group"], group_name=d["group_name"])
        return Response({"photo": PhotoSerializer(made["photo"], context={"request": request}).data,
                         "group": {"index": made["group"].index, "name": made["group"].group.name},
                         "masks": {"foreground": made["foreground"].file.url, "reference": made["reference"].file.url},
                         "region": made["region"], "person_source": made["person_source"]},
                        status=status.HTTP_201_CREATED)
