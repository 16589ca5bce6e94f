# The participant page's settings (full screen, the gap between trials, the end questionnaire) and
# each participant's questionnaire answers.

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("studies", "0003_hardening"),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="questionnaire",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="participant",
            name="questionnaire_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="study",
            name="fullscreen",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="study",
            name="gap_ms",
            field=models.PositiveIntegerField(default=300, validators=[django.core.validators.MaxValueValidator(5000)]),
        ),
        migrations.AddField(
            model_name="study",
            name="questionnaire",
            field=models.BooleanField(default=False),
        ),
    ]
