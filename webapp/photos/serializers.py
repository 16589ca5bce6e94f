from rest_framework import serializers

from webapp.photos.models import Mask, Photo, PhotoGroup
from webapp.photos.prepared import prepared_engines


class MaskSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Mask
        fields = ["id", "photo", "kind", "url", "created_at"]

    def get_url(self, obj) -> str:
        return obj.file.url


class PhotoSerializer(serializers.ModelSerializer):
    urls = serializers.SerializerMethodField()
    masks = MaskSerializer(many=True, read_only=True)
    prepared = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = ["id", "width", "height", "format", "bit_depth", "has_alpha", "original_name", "group",
                  "urls", "masks", "prepared", "created_at"]

    def get_prepared(self, obj) -> list[str]:
        """Interactive engines whose click-independent work for this photo is done and stored."""
        return prepared_engines(obj)

    def get_urls(self, obj) -> dict:
        return {"original": obj.original.url, "working": obj.working.url, "display": obj.display.url}


class PhotoGroupSerializer(serializers.ModelSerializer):
    photo_count = serializers.IntegerField(source="photos.count", read_only=True)

    class Meta:
        model = PhotoGroup
        fields = ["id", "name", "photo_count", "created_at"]
