"""``python manage.py demo_annotation --groups G --photos-per-group N --seed S [--owner NAME]``."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from webapp.annotation import demo
from webapp.refusal import Refusal


class Command(BaseCommand):
    help = ("Build a finished annotation project from the shipped sample portraits: three simulated experts "
            "with distinct consistent styles, one review round sent back and resolved, everything accepted "
            "and frozen. The last line is 'project <id>'.")

    def add_arguments(self, parser):
        parser.add_argument("--groups", type=int, default=3, metavar="G", help="photo groups (default: 3)")
        parser.add_argument("--photos-per-group", type=int, default=4, metavar="N",
                            help="photos per group, 3–18 in PPR10K (default: 4)")
        parser.add_argument("--seed", type=int, default=0, metavar="S",
                            help="seed of the crops, lighting and styles (default: 0)")
        parser.add_argument("--owner", default="demo-annotation",
                            help="researcher who owns the project, created if missing (default: demo-annotation)")

    def handle(self, groups, photos_per_group, seed, owner, **options):
        if not 1 <= groups <= 200 or not 1 <= photos_per_group <= 18:
            raise CommandError("--groups must be 1–200 and --photos-per-group 1–18")
        call_command("migrate", interactive=False, verbosity=0)  # a fresh DATA_DIR works too
        try:
            project = demo.build(groups=groups, per_group=photos_per_group, seed=seed, owner=owner)
        except Refusal as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(f"{groups} group(s) × {photos_per_group} photo(s), slots {', '.join(project.slots)}, "
                          f"experts {', '.join(demo.EXPERTS.values())}, reviewer {demo.REVIEWER}; "
                          f"dataset version {project.dataset_version}")
        self.stdout.write(f"project {project.pk}")
