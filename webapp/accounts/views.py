from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from webapp.accounts.services import token_for
from webapp.refusal import Refusal


class TokenRequest(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class ObtainTokenView(APIView):
    """POST {"username", "password"} → {"token"}; clients then send ``Authorization: Token <token>``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(request=TokenRequest, responses=inline_serializer("Token", {"token": serializers.CharField()}))
    def post(self, request):
        body = TokenRequest(data=request.data)
        body.is_valid(raise_exception=True)
        user = authenticate(request, username=body.validated_data["username"],
                            password=body.validated_data["password"])
        if user is None or not user.is_active:
            raise Refusal("Unknown username or wrong password.")
        return Response({"token": token_for(user), "role": user.role})


class MeView(APIView):
    @extend_schema(responses=inline_serializer("Me", {"username": serializers.CharField(),
                                                     "role": serializers.CharField()}))
    def get(self, request):
        return Response({"username": request.user.username, "role": request.user.role})
