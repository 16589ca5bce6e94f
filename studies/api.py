"""Researcher API (DRF): thin views over ``studies.setup`` (writes) and ``studies.selectors`` (reads).
Refusals raised by the services are answered by ``webapp.exception_handler``; request bodies are
described for the OpenAPI schema by ``studies.schema``."""

from __future__ import annotations

import json

from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from studies import engine_items, export, provenance, selectors, setup
from studies.analysis import to_json
from studies.models import Output, Study
from studies.schema import ITEM_UPLOAD, ExclusionBody, ImportBody, ItemsFromJobsBody, MethodBody, StatusBody
from webapp.accounts.permissions import IsResearcher
from webapp.photos.models import PhotoGroup
from webapp.refusal import Refusal

JSON = OpenApiTypes.OBJECT
FILE = OpenApiTypes.BINARY


class StudySerializer(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = ["id", "title", "public_id", "kind", "allow_tie", "rank_k", "instructions", "consent_text",
                  "practice_trials", "participants_wanted", "recruit_margin", "trials_per_participant",
                  "attention_every", "attention_threshold", "schedule", "min_width", "min_height", "min_view_ms",
                  "speeder_ms", "straightline_share", "exclude_flagged", "completion_code", "prolific_redirect",
                  "status", "seed", "joined", "created_at", "fullscreen", "gap_ms", "questionnaire"]
        read_only_fields = ["id", "public_id", "status", "joined", "created_at"]


@extend_schema(tags=["studies"], responses=JSON)
class ResearcherView(APIView):
    permission_classes = [IsResearcher]

    def study(self, request, pk: int) -> Study:
        return get_object_or_404(selectors.studies_for(request.user), pk=pk)

    @staticmethod
    def body(request) -> dict:
        """The request's JSON (or form) body, refused unless it is an object."""
        if not hasattr(request.data, "get"):
            raise Refusal("Send a JSON object.")
        return request.data


def study_detail(study: Study) -> dict:
    data = StudySerializer(study).data
    data["methods"] = [{"id": m.id, "name": m.name} for m in study.methods.all()]
    items = []
    for item in study.items.prefetch_related("outputs__method"):
        items.append({"id": item.id, "name": item.name, "subset": item.subset,
                      "outputs": {o.method.name: o.id for o in item.outputs.all()}})
    data["items"] = items
    data["subsets"] = sorted({i["subset"] or "all" for i in items})
    data["share_path"] = f"/s/{study.public_id}/"
    data["summary"] = selectors.study_summary(study)
    return data


@extend_schema_view(get=extend_schema(operation_id="studies_list"),
                    post=extend_schema(request=StudySerializer, responses={201: JSON}))
class StudyListView(ResearcherView):
    def get(self, request):
        out = []
        for study in selectors.studies_for(request.user):
            row = StudySerializer(study).data
            row["summary"] = selectors.study_summary(study)
            out.append(row)
        return Response({"results": out})

    def post(self, request):
        body = StudySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        study = setup.create_study(owner=request.user, **body.validated_data)
        return Response(study_detail(study), status=status.HTTP_201_CREATED)


@extend_schema_view(patch=extend_schema(request=StudySerializer))
class StudyDetailView(ResearcherView):
    def get(self, request, pk):
        return Response(study_detail(self.study(request, pk)))

    def patch(self, request, pk):
        study = self.study(request, pk)
        body = StudySerializer(study, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        setup.update_study(study, **body.validated_data)
        return Response(study_detail(study))


@extend_schema_view(post=extend_schema(request=MethodBody, responses={201: JSON}))
class MethodListView(ResearcherView):
    def post(self, request, pk):
        study = self.study(request, pk)
        method = setup.add_method(study, str(self.body(request).get("name", "")))
        return Response({"id": method.id, "name": method.name}, status=status.HTTP_201_CREATED)


@extend_schema_view(post=extend_schema(request={"multipart/form-data": ITEM_UPLOAD}, responses={201: JSON}))
class ItemListView(ResearcherView):
    """multipart: name, subset, input (file), and one file per method named ``output:<method>``."""

    parser_classes = [MultiPartParser, FormParser]

    def post(self, request, pk):
        study = self.study(request, pk)
        upload = request.FILES.get("input")
        if upload is None:
            raise Refusal("Send the input image as 'input'.")
        outputs = {key.split(":", 1)[1]: f.read() for key, f in request.FILES.items() if key.startswith("output:")}
        item = setup.add_item(study, name=str(request.data.get("name") or upload.name),
                              subset=str(request.data.get("subset", "")), input_bytes=upload.read(), outputs=outputs)
        return Response(item_detail(study, item), status=status.HTTP_201_CREATED)


class ItemDetailView(ResearcherView):
    """One item: its outputs by method (ids for ``images/<output_id>/``). DELETE removes it while the
    study is not open and nobody has joined (409 otherwise)."""

    def get(self, request, pk, item_id):
        study = self.study(request, pk)
        item = get_object_or_404(study.items.prefetch_related("outputs__method"), pk=item_id)
        return Response(item_detail(study, item))

    @extend_schema(responses={204: None})
    def delete(self, request, pk, item_id):
        study = self.study(request, pk)
        setup.delete_item(get_object_or_404(study.items, pk=item_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def item_detail(study: Study, item) -> dict:
    base = f"/api/studies/{study.pk}/images"
    outputs = sorted(item.outputs.all(), key=lambda o: (o.method.position, o.method_id))
    return {"id": item.id, "name": item.name, "subset": item.subset, "input_url": f"{base}/0/?item={item.id}",
            "outputs": [{"id": o.id, "method": o.method.name, "url": f"{base}/{o.id}/"} for o in outputs]}


@extend_schema_view(post=extend_schema(request=ImportBody, responses={201: JSON}))
class ImportView(ResearcherView):
    parser_classes = [MultiPartParser, FormParser]

    def post(self, request, pk):
        study = self.study(request, pk)
        upload = request.FILES.get("archive")
        if upload is None:
            raise Refusal("Send a zip archive as 'archive'.")
        added = setup.import_archive(study, upload.read())
        return Response({"added": added, "study": study_detail(study)}, status=status.HTTP_201_CREATED)


@extend_schema_view(post=extend_schema(request=ItemsFromJobsBody, responses={201: JSON}))
class ItemsFromJobsView(ResearcherView):
    """Items from engines. GET: progress. POST ``{"group": id, "methods": [{"engine", "params", "name"}],
    "subset"?}``: one job per photo of the group × method (again: retries failed ones only, and builds
    any item whose jobs all succeeded). Items are built as their jobs finish (studies.engine_items)."""

    def get(self, request, pk):
        return Response(selectors.job_items_status(self.study(request, pk)))

    def post(self, request, pk):
        study = self.study(request, pk)
        body = self.body(request)
        group_id = body.get("group")
        group = PhotoGroup.objects.filter(pk=group_id).first() \
            if isinstance(group_id, int) and not isinstance(group_id, bool) and 0 < group_id < 2**63 else None
        if group is None:
            raise Refusal("Send the photo group's id as 'group'.")
        subset = body.get("subset")
        created = engine_items.items_from_jobs(study, owner=request.user, group=group,
                                               methods=body.get("methods"),
                                               subset=None if subset is None else str(subset))
        return Response({"jobs_created": created, **selectors.job_items_status(study)},
                        status=status.HTTP_201_CREATED)


@extend_schema_view(post=extend_schema(request=StatusBody))
class StatusView(ResearcherView):
    def post(self, request, pk):
        study = self.study(request, pk)
        setup.set_status(study, str(self.body(request).get("status", "")))
        return Response(study_detail(study))


def _flag(request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in {"1", "true", "yes"}


def _int(request, name: str, default: int, high: int) -> int:
    try:
        return max(0, min(int(request.query_params.get(name, default)), high))
    except ValueError:
        return default


class ResultsView(ResearcherView):
    """studies.analysis JSON of the votes votes.csv exports (same defaults as the CLI:
    ``?bootstrap=N&seed=S&details=1`` match ``--bootstrap N --seed S --details``)."""

    def get(self, request, pk):
        study = self.study(request, pk)
        res = selectors.results(study, bootstrap=_int(request, "bootstrap", 0, 5000), seed=_int(request, "seed", 0,
                                2**31), details=_flag(request, "details"), include_excluded=_flag(request, "all"))
        chains = provenance.origin(study)["provenance"] if _flag(request, "download") else []
        body = to_json({**res, "provenance": chains} if chains else res)  # where the compared results came from
        response = HttpResponse(body, content_type="application/json")
        if _flag(request, "download"):
            response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-results.json"'
        return response


@extend_schema(responses={(200, "text/csv"): FILE})
class VotesCsvView(ResearcherView):
    def get(self, request, pk):
        study = self.study(request, pk)
        text = selectors.votes_csv(selectors.vote_records(study, include_excluded=_flag(request, "all")))
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-votes.csv"'
        return response


@extend_schema(responses={(200, "text/csv"): FILE})
class ResponsesCsvView(ResearcherView):
    """Raw responses, one row per answer (practice, attention and excluded participants included,
    each row saying which it is): ``studies.export.RESPONSES_HEADER``."""

    def get(self, request, pk):
        study = self.study(request, pk)
        response = HttpResponse(export.responses_csv(export.response_rows(study)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-responses.csv"'
        return response


@extend_schema(responses={(200, "text/plain"): FILE})
class LatexView(ResearcherView):
    def get(self, request, pk):
        study = self.study(request, pk)
        res = selectors.results(study, bootstrap=_int(request, "bootstrap", 0, 5000))
        response = HttpResponse(export.latex_table(res, caption=study.title), content_type="text/plain")
        response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-table.tex"'
        return response


class DashboardView(ResearcherView):
    """Everything the results page draws: analysis with CIs and details, per subset, win matrices,
    participant quality. Computed on demand (the page asks on the study's WebSocket events, throttled
    to at most one request a second)."""

    def get(self, request, pk):
        study = self.study(request, pk)
        quality = selectors.participant_quality(study)
        records = selectors.vote_records(study)
        res = selectors.results(study, bootstrap=_int(request, "bootstrap", 200, 2000), details=True)
        conds = res["conditions"]
        subsets = sorted({r["subset"] for r in records})
        matrices = {"all": selectors.win_matrix(records, conds)}
        for name in subsets:
            matrices[name] = selectors.win_matrix([r for r in records if r["subset"] == name], conds)
        body = {"study": StudySerializer(study).data, "summary": selectors.study_summary(study),
                "results": res, "win_matrix": matrices, "participants": quality, "votes": len(records)}
        return HttpResponse(json.dumps(body, default=str, allow_nan=False), content_type="application/json")


@extend_schema_view(patch=extend_schema(request=ExclusionBody))
class ParticipantView(ResearcherView):
    def patch(self, request, pk, participant_id):
        study = self.study(request, pk)
        participant = get_object_or_404(study.participants, pk=participant_id)
        excluded = self.body(request).get("excluded")
        if excluded not in (True, False, None):
            raise Refusal("excluded must be true, false or null (automatic).")
        setup.set_exclusion(participant, excluded)
        return Response({"id": participant.id, "excluded": excluded})


@extend_schema(responses={(200, "image/jpeg"): FILE})
class OutputImageView(ResearcherView):
    """Researcher preview of a stored image (input or output); never reachable by participants."""

    def get(self, request, pk, output_id):
        study = self.study(request, pk)
        if output_id == 0:
            item = get_object_or_404(study.items, pk=_int(request, "item", 0, 2**63 - 1))
            path = item.input_image.name
        else:
            path = get_object_or_404(Output, pk=output_id, item__study=study).image.name
        with default_storage.open(path, "rb") as fh:
            response = HttpResponse(fh.read(), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response
