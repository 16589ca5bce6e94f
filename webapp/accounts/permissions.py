"""Role checks shared by every API view and WebSocket consumer.

Guests (role ``guest``, "Try it online" without an account) pass only the checks that name them:
the default permission of every API view is ``IsMember`` (signed in and not a guest)."""

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


class IsMember(BasePermission):
    """Signed in as a member of the lab: any role but ``guest`` (the API's default permission)."""

    message = "Sign in with a lab account: guests may only use the Try it online pages."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(getattr(user, "is_authenticated", False) and user.is_active
                    and (user.is_superuser or getattr(user, "role", None) != Role.GUEST))


def is_guest(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and not user.is_superuser
                and getattr(user, "role", None) == Role.GUEST)


# Who may use "Try it online": run interactive sessions and the try pages' engines on photos they see.
TRY_ROLES = (Role.RESEARCHER, Role.EXPERT, Role.GUEST)
CanTry = HasRole.of(*TRY_ROLES)
# Who may see photos: staff see the library (guests' uploads excluded), guests their own and the samples.
CanSeePhotos = HasRole.of(Role.RESEARCHER, Role.EXPERT, Role.REVIEWER, Role.GUEST)
# Who may upload photos and masks: researchers, and guests (their own, within their quota).
CanUpload = HasRole.of(Role.RESEARCHER, Role.GUEST)
