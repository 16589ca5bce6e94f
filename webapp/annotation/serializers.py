from rest_framework import serializers

from webapp.annotation.models import AnnotationProject, Assignment, DatasetExport, Edit, ReviewIssue


def object_id() -> serializers.IntegerField:
    """A row id: bounded so that a huge number is a 400, not a database overflow."""
    return serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class AssignmentSerializer(serializers.ModelSerializer):
    project_title = serializers.CharField(source="project.title", read_only=True)
    kind = serializers.CharField(source="project.kind", read_only=True)
    group = serializers.IntegerField(source="project_group.index", read_only=True)
    group_name = serializers.CharField(source="project_group.group.name", read_only=True)
    expert = serializers.CharField(source="expert.username", default=None, read_only=True)
    reviewer = serializers.CharField(source="reviewer.username", default=None, read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "project", "project_title", "kind", "group", "group_name", "slot", "expert", "reviewer",
                  "state", "round", "first_pass", "submitted_at", "updated_at"]


class EditSerializer(serializers.ModelSerializer):
    class Meta:
        model = Edit
        fields = ["id", "photo", "version", "params", "renderer_version", "source", "round", "saved_at", "unsupported"]


class IssueSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = ReviewIssue
        fields = ["id", "assignment", "photo", "region", "slider", "comment", "suggested_params", "state", "reply",
                  "author", "round", "created_at", "resolved_at"]


class ProjectSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    groups = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationProject
        fields = ["id", "title", "kind", "owner", "slots", "max_rounds", "qa", "duplicates", "split_seed",
                  "val_fraction", "dataset_version", "frozen_at", "created_at", "groups"]

    def get_groups(self, obj) -> list[dict]:
        return [{"index": pg.index, "id": pg.group_id, "name": pg.group.name, "photos": pg.group.photos.count()}
                for pg in obj.project_groups.select_related("group")]


class ExportSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="download_url", read_only=True)

    class Meta:
        model = DatasetExport
        fields = ["id", "project", "sizes", "dataset_version", "status", "progress", "files", "error", "url",
                  "created_at", "finished_at"]


class ProjectCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    groups = serializers.ListField(child=object_id())  # may be empty for harmonization (composites come later)
    kind = serializers.ChoiceField(choices=AnnotationProject.Kind.choices, default="retouch")
    slots = serializers.ListField(child=serializers.CharField(max_length=8), required=False)
    max_rounds = serializers.IntegerField(default=3)
    qa = serializers.DictField(required=False)
    duplicates = serializers.IntegerField(default=0)
    split_seed = serializers.IntegerField(default=0)
    val_fraction = serializers.FloatField(default=0.2)


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "changes_requested"])
    issues = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    reopen = serializers.ListField(child=object_id(), required=False, default=list)


class ProjectSettingsSerializer(serializers.Serializer):
    qa = serializers.DictField(required=False)
    max_rounds = serializers.IntegerField(required=False)


class CutoutRequestSerializer(serializers.Serializer):
    photo = object_id()


class ProjectCompositeSerializer(serializers.Serializer):
    person = object_id()
    background = object_id()
    x = serializers.FloatField()
    y = serializers.FloatField()
    scale = serializers.FloatField(default=1.0)
    reference = serializers.DictField()
    group = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=10**6)
    group_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
