from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from webapp.accounts.models import Role, User
from webapp.accounts.tokens import issue_token
from webapp.refusal import Refusal


def check_password_strength(password: str, user: User) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS, as a Refusal that lists what is wrong."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise Refusal("The password is too weak: " + " ".join(exc.messages),
                      errors={"password": exc.messages}) from None


@transaction.atomic
def create_or_update_user(username: str, *, role: str, password: str) -> User:
    if role not in Role.values:
        raise Refusal(f"role must be one of {', '.join(Role.values)}")
    user = User.objects.filter(username=username).first() or User(username=username)
    user.role = role
    check_password_strength(password, user)
    user.set_password(password)
    user.save()
    return user


def change_password(user: User, *, old_password: str, new_password: str) -> User:
    """Refused unless ``old_password`` is right; the user's token and tickets are revoked."""
    if not user.check_password(old_password):
        raise Refusal("The current password is wrong.", errors={"old_password": ["wrong password"]})
    check_password_strength(new_password, user)
    user.set_password(new_password)
    user.save()
    return user


def token_for(user: User) -> str:
    return issue_token(user).key
