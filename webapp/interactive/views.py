"""REST for sessions and composites, and the two /try/ pages (shells; data comes over the API)."""

from django.shortcuts import get_object_or_404, render
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts.models import Role
from webapp.accounts.permissions import HasRole, user_has_role
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

CanInteract = HasRole.of(Role.RESEARCHER, Role.EXPERT)
PAGE_ROLES = ("researcher", "expert")


class SessionListView(APIView):
    permission_classes = [CanInteract]

    @extend_schema(request=SessionCreateSerializer, responses={201: SessionSerializer})
    def post(self, request):
        body = SessionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
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

    permission_classes = [HasRole.of(Role.RESEARCHER)]

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
        photo, mask, source = create_composite(person=person, background=background, x=data["x"],
                                               y=data["y"], scale=data["scale"], owner=request.user)
        return Response({"photo": PhotoSerializer(photo).data, "mask": mask.pk, "mask_source": source},
                        status=status.HTTP_201_CREATED)


def _page(request, template: str, context: dict | None = None):
    allowed = user_has_role(request.user, *PAGE_ROLES)
    ctx = {"allowed": allowed, "can_upload": user_has_role(request.user, "researcher"), **(context or {})}
    return render(request, template, ctx, status=200 if allowed or not request.user.is_authenticated else 403)


def try_page(request):
    """Anonymous visitors and other roles see a sign-in prompt; researchers and experts the tool."""
    return _page(request, "try/retouch.html")


def harmonize_page(request):
    return _page(request, "try/harmonize.html")
