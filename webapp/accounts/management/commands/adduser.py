from django.core.management.base import BaseCommand, CommandError

from webapp.accounts.models import Role
from webapp.accounts.services import create_or_update_user


class Command(BaseCommand):
    help = "Create (or update) a user with a role, non-interactively."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", required=True)

    def handle(self, username, role, password, **options):
        if not username.strip():
            raise CommandError("username must not be empty")
        user = create_or_update_user(username, role=role, password=password)
        self.stdout.write(f"user {user.username} ({user.role})")
