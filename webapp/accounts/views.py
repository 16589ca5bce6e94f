from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from webapp.accounts import services, tokens
from webapp.accounts.throttling import LoginGuard
from webapp.refusal import Refusal, TooMany


class TokenRequest(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"}, trim_whitespace=False)


TokenAnswer = inline_serializer("Token", {
    "token": serializers.CharField(), "role": serializers.CharField(),
    "expires_at": serializers.DateTimeField(), "expires_in": serializers.IntegerField(help_text="seconds")})


def _token_answer(user, token) -> dict:
    return {"token": token.key, "role": user.role, **tokens.token_info(token)}


class ObtainTokenView(APIView):
    """POST {"username", "password"} → {"token", "role", "expires_at", "expires_in"}; clients then send
    ``Authorization: Token <token>``. DELETE (with the token) revokes it: signing out."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    def get_authenticators(self):
        # DELETE identifies the token to revoke by the usual header; POST trusts no credentials.
        if getattr(self, "request", None) is not None and self.request.method == "DELETE":
            return [tokens.ExpiringTokenAuthentication()]
        return super().get_authenticators()

    @extend_schema(request=TokenRequest, responses={200: TokenAnswer})
    def post(self, request):
        body = TokenRequest(data=request.data)
        body.is_valid(raise_exception=True)
        guard = LoginGuard(request, body.validated_data["username"])
        guard.check()
        user = authenticate(request, username=body.validated_data["username"],
                            password=body.validated_data["password"])
        if user is None or not user.is_active:
            guard.failed()
            raise Refusal("Unknown username or wrong password.")
        guard.succeeded()
        return Response(_token_answer(user, tokens.issue_token(user)))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if not request.user.is_authenticated:
            raise Refusal("Send the token to revoke as Authorization: Token <token>.", status=401)
        tokens.revoke_credentials(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChange(serializers.Serializer):
    old_password = serializers.CharField(max_length=4096, trim_whitespace=False)
    new_password = serializers.CharField(max_length=4096, trim_whitespace=False)


class PasswordView(APIView):
    """POST {"old_password", "new_password"} → a new token; the old token and all tickets are revoked."""

    @extend_schema(request=PasswordChange, responses={200: TokenAnswer})
    def post(self, request):
        body = PasswordChange(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.change_password(request.user, **body.validated_data)
        return Response(_token_answer(user, tokens.issue_token(user)))


class SocketTicketView(APIView):
    """POST → {"ticket", "expires_at"}: open one WebSocket with ``?ticket=<ticket>`` within seconds."""

    @extend_schema(request=None, responses={201: inline_serializer("SocketTicket", {
        "ticket": serializers.CharField(), "expires_at": serializers.DateTimeField()})})
    def post(self, request):
        ticket, ends = tokens.issue_ticket(request.user)
        response = Response({"ticket": ticket, "expires_at": ends.isoformat()}, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class MeView(APIView):
    @extend_schema(responses=inline_serializer("Me", {"username": serializers.CharField(),
                                                     "role": serializers.CharField()}))
    def get(self, request):
        return Response({"username": request.user.username, "role": request.user.role})


class SignInView(auth_views.LoginView):
    """The sign-in page, throttled like the token endpoint (429 with the form and a message)."""

    template_name = "signin.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        self.guard = LoginGuard(request, request.POST.get("username", ""))
        try:
            self.guard.check()
        except TooMany as refusal:
            # an unbound form: a bound one would check the password while rendering its errors
            context = self.get_context_data(form=self.get_form_class()(request), throttled=refusal.message)
            return self.render_to_response(context, status=refusal.status)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        self.guard.failed()
        return super().form_invalid(form)

    def form_valid(self, form):
        self.guard.succeeded()
        return super().form_valid(form)
