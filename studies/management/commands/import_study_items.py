"""``python manage.py import_study_items <study_id> <folder-or-zip>``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Add items to a study from a folder or a zip archive laid out as [subset/]item/input.* and "
            "item/<method>.* (one file per method), or described by a manifest.csv with columns "
            "item,subset,method,path (method 'input' for the input). Items of the same name are replaced.")

    def add_arguments(self, parser):
        parser.add_argument("study_id", type=int)
        parser.add_argument("source", help="a folder or a .zip file")

    def handle(self, study_id, source, **options):
        import zipfile

        from studies import services
        from studies.models import Study

        study = Study.objects.filter(pk=study_id).first()
        if study is None:
            raise CommandError(f"No study with id {study_id}.")
        path = Path(source)
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        try:
            if path.is_dir():
                added = services.import_directory(study, path)
            elif zipfile.is_zipfile(path):
                added = services.import_archive(study, path)
            else:
                raise CommandError(f"{path} is neither a folder nor a zip archive.")
        except services.StudyError as exc:
            raise CommandError(str(exc)) from None
        methods = ", ".join(study.methods.values_list("name", flat=True))
        self.stdout.write(f"{added} item(s) added to study {study.pk} ({study.title}); it now has "
                          f"{study.items.count()} item(s) and methods: {methods}")
