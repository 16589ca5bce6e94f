"""``python manage.py export_dataset PROJECT_ID --out DIR [--sizes 360p,full] [--tiff-compression deflate|none]``."""

import time

from django.core.management.base import BaseCommand, CommandError

from webapp.annotation import export, services
from webapp.annotation.models import AnnotationProject
from webapp.refusal import Refusal


class Command(BaseCommand):
    help = ("Write a frozen annotation project as a PPR10K-layout dataset folder (docs/annotation.md): "
            "sources, each slot's targets, masks, parameters, XMP sidecars, agreement, manifest.")

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int, help="the annotation project's id")
        parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
        parser.add_argument("--sizes", default="360p", metavar="SIZES",
                            help="comma-separated: 360p (short side 360) and/or full (default: 360p)")
        parser.add_argument("--tiff-compression", choices=export.TIFF_COMPRESSIONS,
                            default=export.DEFAULT_TIFF_COMPRESSION,
                            help="TIFF encoding: none, or deflate (lossless, horizontal predictor, ISA-L: about "
                                 "half the bytes of a photograph for ~0.25 CPU-s more per 24 MP file) "
                                 f"(default: {export.DEFAULT_TIFF_COMPRESSION})")

    def handle(self, project_id, out, sizes, tiff_compression, **options):
        project = AnnotationProject.objects.filter(pk=project_id).first()
        if project is None:
            raise CommandError(f"no annotation project {project_id}")
        try:
            clean = services.clean_sizes(sizes)
            export.frozen_or_refuse(project)
        except Refusal as refusal:
            raise CommandError(refusal.message) from None
        started = time.perf_counter()
        shown = [-1]

        def progress(fraction: float) -> None:
            percent = int(fraction * 100)
            if percent // 10 > shown[0] // 10:
                shown[0] = percent
                self.stderr.write(f"  {percent:3d} %")

        manifest = export.export_dataset(project, out, clean, progress, tiff_compression=tiff_compression)
        self.stdout.write(f"{len(manifest['checksums'])} files for dataset version {manifest['dataset_version']} "
                          f"of project {project.pk} in {out} ({time.perf_counter() - started:.1f} s)")
