"""REST for sessions and composites, and the two /try/ pages (shells; data comes over the API)."""

from django.conf import settings
from django.shortcuts import get_object_or_404, render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts import guests
from webapp.accounts.permissions import TRY_ROLES, CanTry, CanUpload, is_guest, user_has_role
from webapp.interactive import services
from webapp.interactive.compositing import create_composite
from webapp.interactive.models import InteractiveSession
from webapp.interactive.serializers import (
    CompositeCreateSerializer,
    SessionCreateSerializer,
    SessionSerializer,
)
from webapp.photos.selectors import photos_visible_to
from webapp.photos.serializers import PhotoSerializer
from webapp.refusal import NotFound

CanInteract = CanTry  # researchers, experts and guests (webapp/accounts/guests.py)
PAGE_ROLES = TRY_ROLES


class SessionListView(APIView):
    permission_classes = [CanInteract]

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionSerializer})
    def post(self, request):
        body = SessionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        guests.check_run(request.user, body.validated_data["engine"], job=False)
        session = services.create_session(owner=request.user, photo_id=body.validated_data["photo"],
                                          engine=body.validated_data["engine"])
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailView(APIView):
    permission_classes = [CanInteract]

    @extend_schema(responses=SessionSerializer)
    def get(self, request, pk):
        session = get_object_or_404(InteractiveSession.objects.filter(owner=request.user), pk=pk)
        return Response(SessionSerializer(session).data)


class CompositeView(APIView):
    """Paste ``person`` into ``background`` at (x, y) × scale → a new photo + its foreground mask."""

    permission_classes = [CanUpload]  # researchers; guests within their upload quota

    @extend_schema(request=CompositeCreateSerializer, responses={201: inline_serializer(
        "Composite", {"photo": PhotoSerializer(), "mask": serializers.IntegerField(),
                      "mask_source": serializers.CharField()})})
    def post(self, request):
        body = CompositeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        visible = photos_visible_to(request.user)
        person = visible.filter(pk=data["person"]).first()
        background = visible.filter(pk=data["background"]).first()
        if person is None or background is None:
            raise NotFound("person and background must be photos visible to you")
        guests.check_upload(request.user, 0)
        photo, mask, source = create_composite(person=person, background=background, x=data["x"],
                                               y=data["y"], scale=data["scale"], owner=request.user)
        guests.record_upload(request.user, photo.original.size)
        return Response({"photo": PhotoSerializer(photo).data, "mask": mask.pk, "mask_source": source},
                        status=status.HTTP_201_CREATED)


def try_context(request) -> dict:
    """What every /try/ page needs to know about its visitor: may they use the tool and upload, and
    (guests, and the sign-in prompt) how long guests' uploads are kept."""
    return {"allowed": user_has_role(request.user, *PAGE_ROLES),
            "can_upload": user_has_role(request.user, "researcher", "guest"),
            "is_guest": is_guest(request.user), "guest_access": settings.GUEST_ACCESS,
            "guest_retention": guests.retention_text(), "guest_pass": guests.guest_pass(request.user)}


def _page(request, template: str, context: dict | None = None):
    ctx = {**try_context(request), **(context or {})}
    return render(request, template, ctx,
                  status=200 if ctx["allowed"] or not request.user.is_authenticated else 403)


def try_page(request):
    """Anonymous visitors see a sign-in prompt with "Continue as guest"; other roles a refusal;
    researchers, experts and guests the tool."""
    return _page(request, "try/retouch.html")


def harmonize_page(request):
    return _page(request, "try/harmonize.html")
