"""``python manage.py demo_study --participants N --seed S [--open M] [--owner NAME] [--base-url URL]``.

The study belongs to ``demo``, the researcher ``make run`` signs in as (created here, as ``make run``
would, when this runs first), so the README's path ends on a study the signed-in demo user sees.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from studies import simulation
from studies.models import Study
from webapp.accounts.models import Role, User
from webapp.accounts.permissions import user_has_role
from webapp.pages.first_run import ensure_demo_content

DEMO_USER = "demo"  # webapp.pages.first_run


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
        parser.add_argument("--owner", default=DEMO_USER,
                            help="researcher who owns the study (default: demo, the account `make run` "
                                 "creates and prints; another name is created without a password if missing)")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="where the platform is served, for the printed links (default: "
                                 "http://127.0.0.1:8000, as `make run` serves it)")

    def handle(self, participants, seed, open, owner, base_url, **options):
        call_command("migrate", interactive=False, verbosity=0)  # a fresh DATA_DIR works too
        user = self._owner(owner)
        study = simulation.build_study(user, participants=max(0, participants), extra=max(0, open), seed=seed)
        simulation.simulate(study, participants, seed=seed)
        if open <= 0:
            study.status = Study.Status.CLOSED
            study.save(update_fields=["status"])
        base = base_url.rstrip("/")
        self.stdout.write(f"{participants} simulated participant(s) answered; "
                          f"{'open for ' + str(open) + ' more' if open > 0 else 'closed'}")
        self.stdout.write(f"Results (sign in as {user.username}): {base}/studies/{study.pk}/results/")
        self.stdout.write(f"Participant link{'' if open > 0 else ' (closed: reopen it on the setup page)'}: "
                          f"{base}/s/{study.public_id}/")
        self.stdout.write(f"study {study.pk} {study.public_id}")  # last: scripts and tests read it

    def _owner(self, name: str) -> User:
        if name == DEMO_USER and not User.objects.filter(username=name).exists():
            for line in ensure_demo_content():  # what `make run` creates and prints on its first start
                self.stdout.write(line)
        user = User.objects.filter(username=name).first()
        if user is None:
            user = User.objects.create(username=name, role=Role.RESEARCHER)
            user.set_unusable_password()
            user.save()
            self.stdout.write(f"Created researcher {name} without a password: "
                              f"manage.py adduser {name} --role researcher --password '…' to sign in.")
        if not user_has_role(user, "researcher"):
            raise CommandError(f"{name} is not a researcher: only researchers own studies.")
        return user
