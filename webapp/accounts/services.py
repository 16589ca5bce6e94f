from django.db import transaction
from rest_framework.authtoken.models import Token

from webapp.accounts.models import Role, User


@transaction.atomic
def create_or_update_user(username: str, *, role: str, password: str) -> User:
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    user, _ = User.objects.get_or_create(username=username)
    user.role = role
    user.set_password(password)
    user.save()
    return user


def token_for(user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
