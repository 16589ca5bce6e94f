from django.db import models


class Sample(models.Model):
    """A photo every visitor of "Try it online" may use, guests included, with where it comes from.

    Rows are made by ``webapp.samples.services.ensure_samples`` from ``webapp.samples.catalogue``;
    ``derived`` says how a derived sample was made from which shipped photos (empty for an original)."""

    key = models.SlugField(max_length=64, unique=True)
    photo = models.OneToOneField("photos.Photo", on_delete=models.CASCADE, related_name="sample")
    title = models.CharField(max_length=200)
    credit = models.TextField()
    licence = models.CharField(max_length=100)
    derived = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title
