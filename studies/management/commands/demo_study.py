"""``python manage.py demo_study --participants N --seed S [--open M]``."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from studies import simulation
from studies.models import Study
from webapp.accounts.models import Role, User


class Command(BaseCommand):
    help = ("Build the retouching paper's user study (5 methods, PPR10K-a/b/c × 50 items) and let N "
            "simulated participants answer it through the participant API.")

    def add_arguments(self, parser):
        parser.add_argument("--participants", type=int, default=20, metavar="N",
                            help="simulated participants who answer the study (default: 20)")
        parser.add_argument("--seed", type=int, default=0, metavar="S",
                            help="seed of the study's images, schedule and answers (default: 0)")
        parser.add_argument("--open", type=int, default=0, metavar="M",
                            help="leave the study open for M more participants (default: 0, closed)")
        parser.add_argument("--owner", default="demo-researcher",
                            help="researcher who owns the study, created if missing (default: demo-researcher)")

    def handle(self, participants, seed, open, owner, **options):
        call_command("migrate", interactive=False, verbosity=0)  # a fresh DATA_DIR works too
        user = User.objects.filter(username=owner).first()
        if user is None:
            user = User.objects.create(username=owner, role=Role.RESEARCHER)
            user.set_unusable_password()
            user.save()
        study = simulation.build_study(user, participants=max(0, participants), extra=max(0, open), seed=seed)
        simulation.simulate(study, participants, seed=seed)
        if open <= 0:
            study.status = Study.Status.CLOSED
            study.save(update_fields=["status"])
        self.stdout.write(f"{participants} simulated participant(s) answered; "
                          f"{'open for ' + str(open) + ' more' if open > 0 else 'closed'}")
        self.stdout.write(f"study {study.pk} {study.public_id}")
