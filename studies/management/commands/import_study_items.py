"""``python manage.py import_study_items <study_id> <folder-or-zip>``."""

import zipfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studies import setup
from studies.models import Study
from webapp.refusal import Refusal


class Command(BaseCommand):
    help = ("Add items to a study from a folder or a zip archive laid out as [subset/]item/input.* and "
            "item/<method>.* (one file per method), or described by a manifest.csv with columns "
            "item,subset,method,path (method 'input' for the input). Items of the same name are replaced.")

    def add_arguments(self, parser):
        parser.add_argument("study_id", type=int, help="the study's id (as in /studies/<id>/)")
        parser.add_argument("source", help="a folder or a .zip file")

    def handle(self, study_id, source, **options):
        study = Study.objects.filter(pk=study_id).first()
        if study is None:
            raise CommandError(f"No study with id {study_id}.")
        path = Path(source)
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        if not path.is_dir() and not zipfile.is_zipfile(path):
            raise CommandError(f"{path} is neither a folder nor a zip archive.")
        try:
            added = setup.import_directory(study, path) if path.is_dir() else setup.import_archive(study, path)
        except Refusal as refusal:  # the command line's boundary: a refusal is the command's error
            raise CommandError(refusal.message) from None
        methods = ", ".join(study.methods.values_list("name", flat=True))
        self.stdout.write(f"{added} item(s) added to study {study.pk} ({study.title}); it now has "
                          f"{study.items.count()} item(s) and methods: {methods}")
