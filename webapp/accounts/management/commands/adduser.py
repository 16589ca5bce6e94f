from django.core.management.base import BaseCommand, CommandError

from webapp.accounts.models import Role
from webapp.accounts.services import create_or_update_user
from webapp.refusal import Refusal


class Command(BaseCommand):
    help = "Create (or update) a user with a role, non-interactively. An existing user gets the new role and password."

    def add_arguments(self, parser):
        parser.add_argument("username", help="the sign-in name (required)")
        parser.add_argument("--role", required=True, choices=Role.values,
                            help="what the user may do: %(choices)s (required; no default)")
        parser.add_argument("--password", required=True,
                            help="the user's password (required; no default); Django's password validators "
                                 "apply: at least 8 characters, not common, not all digits, not like the username")

    def handle(self, username, role, password, **options):
        if not username.strip():
            raise CommandError("username must not be empty")
        try:
            user = create_or_update_user(username, role=role, password=password)
        except Refusal as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(f"user {user.username} ({user.role})")
