from django.core.management.base import BaseCommand

from webapp.accounts.guests import purge_expired, retention_text


class Command(BaseCommand):
    help = ("Delete the guests of Try it online whose time is up (GUEST_RETENTION_HOURS after they started), "
            "with their uploads, masks, jobs, interactive sessions and every file those own. Workers also run "
            "this every GUEST_PURGE_INTERVAL_SECONDS; use the command from cron where no worker runs.")

    def handle(self, **options):
        report = purge_expired()
        self.stdout.write(f"purged {report.guests} guest(s) older than {retention_text()}, "
                          f"{report.files} file(s) deleted")
        for line in report.skipped:
            self.stdout.write(f"kept for now: {line}")
