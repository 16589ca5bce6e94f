from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts import guests
from webapp.accounts.permissions import CanSeePhotos, CanUpload, IsResearcher, IsStaffMember, is_guest
from webapp.pagination import paginate
from webapp.photos import prepared, selectors, services
from webapp.photos.models import PhotoGroup
from webapp.photos.serializers import MaskSerializer, PhotoGroupSerializer, PhotoSerializer
from webapp.refusal import Forbidden, Refusal


class GroupCreate(serializers.Serializer):
    name = serializers.CharField(max_length=200)


def group_id(value) -> int:
    """A photo group id from a query or form field: digits only, within the id column's range."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise Refusal(f"group must be a photo group's id (a positive integer), not {text[:40]!r}.")
    return int(text)


UploadForm = inline_serializer("PhotoUpload", {"file": serializers.FileField(),
                                               "group": serializers.IntegerField(required=False)})


class PhotoListView(APIView):
    """GET: the photo library (staff roles; a guest: its uploads and the samples). POST multipart
    ``file``: upload (researchers; guests within their quota, webapp/accounts/guests.py)."""

    parser_classes = [MultiPartParser, FormParser]

    def get_permissions(self):
        return [CanUpload()] if self.request.method == "POST" else [CanSeePhotos()]

    @extend_schema(responses=PhotoSerializer(many=True),
                   parameters=[OpenApiParameter("group", int, required=False)])
    def get(self, request):
        queryset = selectors.photos_visible_to(request.user)
        group = request.query_params.get("group")
        if group:
            queryset = queryset.filter(group_id=group_id(group))
        return paginate(request, self, queryset, PhotoSerializer)

    @extend_schema(request={"multipart/form-data": UploadForm}, responses={201: PhotoSerializer})
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise Refusal("Send the image in a multipart field named 'file'.")
        group = None
        if request.data.get("group") and is_guest(request.user):
            raise Forbidden("Guests cannot put photos into groups.")
        guests.check_upload(request.user, upload.size)
        if request.data.get("group"):
            group = PhotoGroup.objects.filter(pk=group_id(request.data.get("group"))).first()
            if group is None:
                raise Refusal("No such photo group.")
        photo = services.ingest_photo(upload=upload, owner=request.user, group=group)
        guests.record_upload(request.user, upload.size)
        prepared.request_prepare(photo)  # interactive engines' click-independent work, in the background
        return Response(PhotoSerializer(photo).data, status=status.HTTP_201_CREATED)


class PhotoDetailView(APIView):
    permission_classes = [CanSeePhotos]

    @extend_schema(responses=PhotoSerializer)
    def get(self, request, pk: int):
        photo = get_object_or_404(selectors.photos_visible_to(request.user), pk=pk)
        return Response(PhotoSerializer(photo).data)


class PhotoMaskView(APIView):
    """GET the photo's masks; POST multipart ``file`` (+ ``kind``) to attach one (researchers; guests to
    photos they uploaded)."""

    parser_classes = [MultiPartParser, FormParser]

    def get_permissions(self):
        return [CanUpload()] if self.request.method == "POST" else [CanSeePhotos()]

    @extend_schema(responses=MaskSerializer(many=True))
    def get(self, request, pk: int):
        photo = get_object_or_404(selectors.photos_visible_to(request.user), pk=pk)
        return Response(MaskSerializer(photo.masks.all(), many=True).data)

    @extend_schema(request={"multipart/form-data": inline_serializer(
        "MaskUpload", {"file": serializers.FileField(), "kind": serializers.CharField(required=False)})},
        responses={201: MaskSerializer})
    def post(self, request, pk: int):
        photo = get_object_or_404(selectors.photos_visible_to(request.user), pk=pk)
        if is_guest(request.user) and photo.owner_id != request.user.pk:
            raise Forbidden("Guests may add masks only to photos they uploaded.")
        upload = request.FILES.get("file")
        if upload is None:
            raise Refusal("Send the mask image in a multipart field named 'file'.")
        guests.check_upload(request.user, upload.size)
        mask = services.attach_mask(photo=photo, upload=upload, kind=request.data.get("kind", "human"),
                                    created_by=request.user)
        guests.record_upload(request.user, upload.size)
        return Response(MaskSerializer(mask).data, status=status.HTTP_201_CREATED)


class PhotoGroupListView(APIView):
    def get_permissions(self):
        return [IsResearcher()] if self.request.method == "POST" else [IsStaffMember()]

    @extend_schema(responses=PhotoGroupSerializer(many=True))
    def get(self, request):
        return paginate(request, self, PhotoGroup.objects.all(), PhotoGroupSerializer)

    @extend_schema(request=GroupCreate, responses={201: PhotoGroupSerializer})
    def post(self, request):
        body = GroupCreate(data=request.data)
        body.is_valid(raise_exception=True)
        group = services.create_group(name=body.validated_data["name"], created_by=request.user)
        return Response(PhotoGroupSerializer(group).data, status=status.HTTP_201_CREATED)
