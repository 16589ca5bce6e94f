from django.core.exceptions import ObjectDoesNotExist
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
    sample = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = ["id", "width", "height", "format", "bit_depth", "has_alpha", "original_name", "group",
                  "urls", "masks", "prepared", "sample", "created_at"]

    def get_sample(self, obj) -> dict | None:
        """For a sample portrait (webapp/samples): its title, credit, licence and, for a derived one,
        how it was made; null for any other photo."""
        try:
            sample = obj.sample
        except ObjectDoesNotExist:
            return None
        return {"key": sample.key, "title": sample.title, "credit": sample.credit, "licence": sample.licence,
                "derived": sample.derived}

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
