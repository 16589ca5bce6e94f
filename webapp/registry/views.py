"""Model registry API under /api/models/: thin views over ``services`` (writes) and ``selectors``
(reads). Researchers only, and only their own runs (404 for another's)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts.permissions import IsResearcher
from webapp.refusal import Refusal
from webapp.registry import selectors, services, uploads

JSON = OpenApiTypes.OBJECT


def _body(request) -> dict:
    if not hasattr(request.data, "get"):
        raise Refusal("Send a JSON object.")
    return request.data


TrainBody = inline_serializer("TrainModelBody", {
    "dataset": serializers.IntegerField(required=False,
                                        help_text="A frozen annotation project (its current dataset version)."),
    "upload": serializers.IntegerField(required=False, help_text="Or: an uploaded PPR10K-layout zip "
                                                                 "(POST /api/models/datasets/); exactly one of the two."),
    "model": serializers.CharField(help_text="A trainable learned engine, e.g. retouch.lut."),
    "expert": serializers.CharField(default="a", help_text="The expert slot whose targets to learn."),
    "steps": serializers.IntegerField(default=200), "seed": serializers.IntegerField(default=0),
    "arguments": serializers.DictField(required=False, help_text="The network's constructor arguments."),
})
StudyBody = inline_serializer("CompareInStudyBody", {
    "methods": serializers.ListField(required=False, help_text='"model", "expert", "input", {"run": id} or a '
                                                                "classical engine (default: model, retouch.auto, "
                                                                "expert, input)."),
    "title": serializers.CharField(required=False), "participants": serializers.IntegerField(default=20),
})


@extend_schema(tags=["models"], responses=JSON)
class ResearcherView(APIView):
    permission_classes = [IsResearcher]


class ModelListView(ResearcherView):
    @extend_schema(operation_id="models_list")
    def get(self, request):
        return Response({"results": selectors.model_list(request.user),
                         "trainable": services.trainable_models()})


UploadBody = inline_serializer("DatasetUploadBody", {
    "file": serializers.FileField(help_text="A zip in the PPR10K layout: 360p/{train,val}/{source,target_a,…}/, "
                                            "masks_360p/ (at its root or in one top-level folder)."),
})


class DatasetListView(ResearcherView):
    def get(self, request):
        return Response({"results": selectors.frozen_datasets(request.user),
                         "uploads": selectors.dataset_uploads(request.user)})

    @extend_schema(operation_id="models_datasets_upload", request={"multipart/form-data": UploadBody},
                   responses={201: JSON})
    def post(self, request):
        files = getattr(request, "FILES", {})
        upload = uploads.store(owner=request.user, upload=files.get("file") if files else None)
        return Response(uploads.summary(upload), status=status.HTTP_201_CREATED)


class TrainView(ResearcherView):
    @extend_schema(request=TrainBody, responses={201: JSON})
    def post(self, request):
        body = _body(request)
        unknown = set(body) - {"dataset", "upload", "model", "expert", "steps", "seed", "arguments"}
        if unknown:
            raise Refusal(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        run = services.start_training(owner=request.user, dataset=body.get("dataset"), upload=body.get("upload"),
                                      model=body.get("model"),
                                      expert=body.get("expert", "a"), steps=body.get("steps", 200),
                                      seed=body.get("seed", 0), arguments=body.get("arguments"))
        return Response(selectors.run_summary(run), status=status.HTTP_201_CREATED)


class ModelDetailView(ResearcherView):
    def get(self, request, pk: int):
        return Response(selectors.run_detail(selectors.run_for(request.user, pk)))


class ResumeView(ResearcherView):
    @extend_schema(request=None, responses=JSON)
    def post(self, request, pk: int):
        run = services.resume_training(selectors.run_for(request.user, pk))
        return Response(selectors.run_summary(run))


class CompareInStudyView(ResearcherView):
    @extend_schema(request=StudyBody, responses={201: JSON})
    def post(self, request, pk: int):
        body = _body(request)
        comparison = services.compare_in_study(run=selectors.run_for(request.user, pk), owner=request.user,
                                               methods=body.get("methods"), title=body.get("title"),
                                               participants=body.get("participants", 20))
        return Response({"study": comparison.study_id, "methods": [m["name"] for m in comparison.methods],
                         "photos": comparison.photos, "setup_url": f"/studies/{comparison.study_id}/",
                         "results_url": f"/studies/{comparison.study_id}/results/"},
                        status=status.HTTP_201_CREATED)


class ProvenanceView(ResearcherView):
    def get(self, request, pk: int):
        return Response(selectors.provenance(selectors.run_for(request.user, pk)))
