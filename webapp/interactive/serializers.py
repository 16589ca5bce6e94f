from rest_framework import serializers

from webapp.interactive.models import InteractiveSession


class SessionCreateSerializer(serializers.Serializer):
    photo = serializers.IntegerField(min_value=1)
    engine = serializers.CharField(default="retouch.interactive")


class SessionSerializer(serializers.ModelSerializer):
    websocket = serializers.SerializerMethodField()

    class Meta:
        model = InteractiveSession
        fields = ["id", "photo", "engine", "engine_version", "created_at", "websocket", "worker_queue"]
        read_only_fields = fields

    def get_websocket(self, obj) -> str:
        return f"/ws/sessions/{obj.pk}/"


class CompositeCreateSerializer(serializers.Serializer):
    person = serializers.IntegerField(min_value=1)
    background = serializers.IntegerField(min_value=1)
    x = serializers.FloatField()
    y = serializers.FloatField()
    scale = serializers.FloatField(default=1.0, min_value=0.01, max_value=20)
