"""Role checks shared by every API view and WebSocket consumer."""

from rest_framework.permissions import BasePermission

from webapp.accounts.models import Role


def user_has_role(user, *roles: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or getattr(user, "role", None) in roles


class HasRole(BasePermission):
    """``permission_classes = [HasRole.of(Role.RESEARCHER)]``."""

    roles: tuple[str, ...] = ()
    message = "Your role does not allow this."

    @classmethod
    def of(cls, *roles: str):
        return type(f"HasRole_{'_'.join(roles)}", (cls,), {"roles": tuple(roles)})

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, *self.roles)


IsResearcher = HasRole.of(Role.RESEARCHER)
IsStaffMember = HasRole.of(Role.RESEARCHER, Role.EXPERT, Role.REVIEWER)
