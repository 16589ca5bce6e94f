from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import CSRFCheck
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from webapp.accounts import guests, services, tokens
from webapp.accounts.permissions import is_guest
from webapp.accounts.throttling import LoginGuard
from webapp.refusal import Forbidden, Refusal, TooMany


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
    """POST → {"ticket", "expires_at"}: open one WebSocket with ``?ticket=<ticket>`` within seconds.
    Guests too: each socket still checks the role it needs."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: inline_serializer("SocketTicket", {
        "ticket": serializers.CharField(), "expires_at": serializers.DateTimeField()})})
    def post(self, request):
        ticket, ends = tokens.issue_ticket(request.user)
        response = Response({"ticket": ticket, "expires_at": ends.isoformat()}, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class MeView(APIView):
    """Who is signed in; a guest also learns when it and its uploads are deleted, and its limits."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer("Me", {"username": serializers.CharField(),
                                                     "role": serializers.CharField(),
                                                     "guest": serializers.DictField(required=False)}))
    def get(self, request):
        answer = {"username": request.user.username, "role": request.user.role}
        if is_guest(request.user):
            answer["guest"] = guests.describe(request.user)
        return Response(answer)


GuestAnswer = inline_serializer("Guest", {
    "username": serializers.CharField(), "role": serializers.CharField(),
    "expires_at": serializers.DateTimeField(), "stored_bytes": serializers.IntegerField(),
    "limits": serializers.DictField()})


def _enforce_csrf(request) -> None:
    """The CSRF check Django applies to forms, for a view that authenticates nobody (DRF checks CSRF
    only for users it authenticated by the session cookie, and a guest is not signed in yet)."""
    check = CSRFCheck(lambda _request: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise Forbidden(f"CSRF check failed ({reason}): send the csrftoken cookie and its value as "
                        "X-CSRFToken, as the site's pages do.")


class GuestView(APIView):
    """POST (no body) → a guest session: a short-lived user of role ``guest`` signed in by the session
    cookie (201), or the guest already signed in (200). CSRF is checked as for a form."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=None, responses={201: GuestAnswer, 200: GuestAnswer})
    def post(self, request):
        _enforce_csrf(request._request)
        user, created = guests.create_guest(request._request)
        response = Response({"username": user.username, "role": user.role, **guests.describe(user)},
                            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
        response["Cache-Control"] = "no-store"
        return response


@require_POST
def guest_start(request):
    """The "Continue as guest" form of the try pages (CSRF-checked like every form): sign in as a guest
    and go back to ``next``; a refusal is shown as a page with its status (429 + Retry-After)."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/try/"
    try:
        guests.create_guest(request)
    except Refusal as refusal:
        response = render(request, "try/guest_refused.html", {"message": refusal.message, "next": target},
                          status=refusal.status)
        if getattr(refusal, "retry_after", None):
            response["Retry-After"] = str(refusal.retry_after)
        return response
    return redirect(target)


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
