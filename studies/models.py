"""User studies: a study has methods and items (an input plus one output per method); participants
(not users: they hold a random token whose SHA-256 is stored) answer trials; each trial has at most
one response (unique constraint), and (participant, idempotency_key) is unique too.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from studies import kinds

DEFAULT_INSTRUCTIONS = (
    "You will see a portrait photograph and two retouched versions of it. Choose the version you "
    "prefer. Ask yourself: does it look realistic? Are there artifacts (halos, blotches, colour "
    "shifts)? Above all, are the people in harmony with each other and with the background - "
    "similar exposure, colour and contrast, as if lit by the same light?"
)
DEFAULT_CONSENT = (
    "This is a research study on the perceived quality of retouched portraits. Taking part is "
    "voluntary; you may stop at any time. We record your answers, response times, screen size and "
    "browser, and the platform identifiers passed in the link (for payment). No other personal data "
    "is collected. Data are used only for research and published in aggregate form."
)


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


def new_token() -> str:
    return secrets.token_urlsafe(18)


def new_completion_code() -> str:
    """One code for the whole study, as Prolific configures it (8 characters, e.g. ``C4A1F09E``)."""
    return secrets.token_hex(4).upper()


class Study(models.Model):
    class Schedule(models.TextChoices):
        BALANCED = "balanced", "Balanced"
        ADAPTIVE = "adaptive", "Adaptive (information gain)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studies")
    title = models.CharField(max_length=200)
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    kind = models.CharField(max_length=16, choices=kinds.CHOICES, default=kinds.PAIRWISE)  # see studies.kinds
    allow_tie = models.BooleanField(default=False)
    rank_k = models.PositiveSmallIntegerField(default=3)
    instructions = models.TextField(default=DEFAULT_INSTRUCTIONS)
    consent_text = models.TextField(default=DEFAULT_CONSENT)
    practice_trials = models.PositiveSmallIntegerField(default=2)
    participants_wanted = models.PositiveIntegerField(default=20)  # the quota: joins close once this many completed
    recruit_margin = models.PositiveIntegerField(default=5)  # joins beyond the quota allowed for drop-outs
    trials_per_participant = models.PositiveIntegerField(default=50)
    attention_every = models.PositiveSmallIntegerField(default=10)  # one gold trial per N trials; 0 = none
    attention_threshold = models.FloatField(default=0.75)
    schedule = models.CharField(max_length=16, choices=Schedule.choices, default=Schedule.BALANCED)
    min_width = models.PositiveIntegerField(default=1000)
    min_height = models.PositiveIntegerField(default=600)
    min_view_ms = models.PositiveIntegerField(default=0)  # answers given sooner after the images showed: refused
    speeder_ms = models.PositiveIntegerField(default=700)  # median time between answers below: flagged; 0 = off
    straightline_share = models.FloatField(default=0.9)  # share of one same answer at or above: flagged; 0 = off
    exclude_flagged = models.BooleanField(default=False)  # flagged participants excluded automatically
    # Prolific's code (one per study; generated, or pasted from Prolific); blank → one per participant.
    completion_code = models.CharField(max_length=64, blank=True, default=new_completion_code)
    prolific_redirect = models.BooleanField(default=True)
    fullscreen = models.BooleanField(default=False)  # the page asks for full screen when trials start
    # a fixation cross between trials (ms; 0 = none)
    gap_ms = models.PositiveIntegerField(default=300, validators=[MaxValueValidator(5000)])
    questionnaire = models.BooleanField(default=False)  # the end questionnaire (demographics, comment)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    seed = models.IntegerField(default=0)
    joined = models.PositiveIntegerField(default=0)  # participants so far (schedule slot counter)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Method(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="methods")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["study", "name"], name="study_method_unique")]

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=200)
    subset = models.CharField(max_length=100, blank=True)
    input_image = models.FileField(upload_to="studies/img/")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["study", "name"], name="study_item_unique")]

    def __str__(self) -> str:
        return self.name


class Output(models.Model):
    """One method's result for one item, re-encoded (JPEG, no metadata, the input's size)."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="outputs")
    method = models.ForeignKey(Method, on_delete=models.CASCADE, related_name="outputs")
    image = models.FileField(upload_to="studies/img/")
    degraded = models.FileField(upload_to="studies/img/")  # for attention checks

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "method"], name="item_method_unique")]

    def __str__(self) -> str:
        return f"output {self.pk}"


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    token_hash = models.CharField(max_length=64, unique=True)
    slot = models.PositiveIntegerField()  # join order; picks the balanced block
    label = models.CharField(max_length=16)  # "P007": what researchers and exports see
    params = models.JSONField(default=dict, blank=True)
    screen = models.JSONField(default=dict, blank=True)
    platform_id = models.CharField(max_length=300, blank=True)  # "prolific:<PROLIFIC_PID>": one participant each
    client_key = models.CharField(max_length=80, blank=True)  # the page's key for its join: retries find it
    token_salt = models.CharField(max_length=32, blank=True)  # with SECRET_KEY, derives the token again
    consent_at = models.DateTimeField()
    completion_code = models.CharField(max_length=64)
    completed_at = models.DateTimeField(null=True, blank=True)
    excluded = models.BooleanField(null=True, blank=True)  # None: automatic (attention checks)
    # The end questionnaire's answers (studies.participation.QUESTIONNAIRE); None: not answered (yet).
    questionnaire = models.JSONField(null=True, blank=True)
    questionnaire_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slot"]
        constraints = [
            models.UniqueConstraint(fields=["study", "platform_id"], condition=~models.Q(platform_id=""),
                                    name="participant_platform_id_unique"),
            models.UniqueConstraint(fields=["study", "client_key"], condition=~models.Q(client_key=""),
                                    name="participant_client_key_unique"),
        ]

    def __str__(self) -> str:
        return self.label


class Trial(models.Model):
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="trials")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="trials")
    position = models.PositiveIntegerField()
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    practice = models.BooleanField(default=False)
    attention = models.BooleanField(default=False)
    # Pairwise: left/right outputs. Ranking: candidates (output ids, display order).
    left = models.ForeignKey(Output, null=True, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Output, null=True, on_delete=models.CASCADE, related_name="+")
    candidates = models.JSONField(default=list, blank=True)
    degraded_side = models.CharField(max_length=8, blank=True)  # attention: "left"/"right"/index

    class Meta:
        ordering = ["position"]
        indexes = [models.Index(fields=["participant", "position"])]

    def __str__(self) -> str:
        return self.public_id


class TrialImage(models.Model):
    """An opaque, per-trial image URL token → the stored file (never a method name)."""

    token = models.CharField(max_length=40, unique=True, default=new_token)
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="image_tokens")
    role = models.CharField(max_length=8)  # input, left, right, c0, c1, ...
    path = models.CharField(max_length=300)

    def __str__(self) -> str:
        return self.token


class Response(models.Model):
    trial = models.OneToOneField(Trial, on_delete=models.CASCADE, related_name="response")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="responses")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="responses")
    idempotency_key = models.CharField(max_length=80)
    choice = models.CharField(max_length=8, blank=True)  # left / right / tie
    order = models.JSONField(null=True, blank=True)  # ranking: candidate indexes, best first
    elapsed_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["participant", "idempotency_key"],
                                               name="response_idempotency_unique")]

    def __str__(self) -> str:
        return f"response {self.pk}"


class JobItem(models.Model):
    """Items from engines: one job (an engine with preset parameters, run on one photo of a photo
    group) whose output becomes the photo's item's output for ``method``. ``item`` is set once every
    job of that photo has succeeded and the item was built (``studies.engine_items``)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="job_items")
    photo = models.ForeignKey("photos.Photo", on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=100)
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="+")
    subset = models.CharField(max_length=100, blank=True)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["study", "photo", "method"], name="job_item_unique")]

    def __str__(self) -> str:
        return f"{self.method} on photo {self.photo_id}"
