"""What ``/api/schema/`` says about the studies API.

The researcher views are DRF views: their request bodies are the ``*Body`` serializers below, named
in ``extend_schema`` (the services check the values and refuse with the messages the API answers).
The participant endpoints are plain Django views (``studies.participate``; the two hot ones also
served by ``studies.fastpath``), which drf-spectacular does not see: ``add_participant_endpoints``,
a postprocessing hook (settings: ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``), adds them.
"""

from __future__ import annotations

from rest_framework import serializers

from studies import hot_path, inputs
from studies.models import Study

# ----------------------------------------------------------------------------- researcher request bodies


class MethodBody(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="The method's name (never shown to participants).")


class ImportBody(serializers.Serializer):
    archive = serializers.FileField(help_text="A zip with [subset/]item/input.* and item/<method>.*, or a "
                                              "manifest.csv (item, subset, method, path; method 'input').")


ITEM_UPLOAD = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Item name (default: the input's file name)."},
        "subset": {"type": "string"},
        "input": {"type": "string", "format": "binary", "description": "The input image."},
    },
    "additionalProperties": {"type": "string", "format": "binary",
                             "description": "One file per method, named output:<method>."},
    "required": ["input"],
}


class EngineMethodBody(serializers.Serializer):
    engine = serializers.CharField(help_text="A registered engine that takes a photo alone and returns an image.")
    params = serializers.DictField(required=False, help_text="The engine's parameters (checked like a job's).")
    name = serializers.CharField(required=False, help_text="The method's name (default: the engine's).")


class ItemsFromJobsBody(serializers.Serializer):
    group = serializers.IntegerField(help_text="A photo group's id.")
    methods = EngineMethodBody(many=True)
    subset = serializers.CharField(required=False, help_text="Subset of the items (default: the group's name).")


class StatusBody(serializers.Serializer):
    status = serializers.ChoiceField(choices=Study.Status.choices)


class ExclusionBody(serializers.Serializer):
    excluded = serializers.BooleanField(allow_null=True, help_text="null: automatic (attention pass rate "
                                                                   "below the study's threshold).")


# ----------------------------------------------------------------------------- participant endpoints

_OBJECT = {"type": "object", "additionalProperties": True}
_TOKEN = {"name": hot_path.TOKEN_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
          "description": "The participant_token received when joining."}
_ERROR = {"description": "Refused: {\"detail\": message}",
          "content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}}}


def _json(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _answer(description: str, schema: dict = _OBJECT, media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {"schema": schema}}}


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
JOIN_BODY = {"type": "object", "required": ["consent"], "properties": {
    "consent": {"type": "boolean", "enum": [True], "description": "Must be true."},
    "params": {"type": "object", "maxProperties": inputs.MAX_PARAMS,
               "additionalProperties": {**_TEXT, "maxLength": inputs.MAX_PARAM_VALUE},
               "description": f"URL parameters of the link (PROLIFIC_PID, STUDY_ID, SESSION_ID, workerId, ...; "
                              f"names of 1 to {inputs.MAX_PARAM_KEY} characters). "
                              "PROLIFIC_PID (else workerId) identifies the person: joining again with it "
                              "resumes the same participant."},
    "screen": {"$ref": "#/components/schemas/ParticipantScreen"},
    "client_key": {**_TEXT, "minLength": 1, "maxLength": inputs.MAX_KEY,
                   "description": "A key the page makes for its join: a retried join with it resumes the "
                                  "participant it made."}}}
SCREEN_BODY = {"type": "object", "maxProperties": inputs.MAX_SCREEN,
               "additionalProperties": {"oneOf": [{**_TEXT, "maxLength": inputs.MAX_SCREEN_TEXT},
                                                  {"type": "number", "minimum": -1e9, "maximum": 1e9},
                                                  {"type": "boolean"}]},
               "description": f"Window and screen size, devicePixelRatio, browser (names of 1 to "
                              f"{inputs.MAX_SCREEN_KEY} characters)."}
VOTE_BODY = {"type": "object", "required": ["idempotency_key"], "properties": {
    "choice": {"type": "string", "enum": ["left", "right", "tie"], "description": "Pairwise studies ('tie' only "
               "when the study allows it)."},
    "order": {"type": "array", "items": {"type": "integer"}, "description": "Ranking studies: every candidate "
              "index once, best first."},
    "idempotency_key": {**_TEXT, "minLength": 1, "maxLength": inputs.MAX_KEY,
                        "description": "One per trial; sending the same answer again with it stores nothing."},
    "elapsed_ms": {"type": "number", "description": "Time from the images being shown to the answer; below "
                   "the study's min_view_ms the answer is refused (400)."}}}

def _questionnaire_body() -> dict:
    from studies.participation import MAX_COMMENT, QUESTIONNAIRE

    return {"type": "object", "additionalProperties": False, "description": "Every answer optional ({} skips).",
            "properties": {**{name: {"type": "string", "enum": [*choices, ""]} for name, choices in QUESTIONNAIRE.items()},
                           "comment": {**_TEXT, "maxLength": MAX_COMMENT}}}


PARTICIPANT_PATHS = {
    "/api/participate/{public_id}/": {"get": {
        "operationId": "participate_study_info", "summary": "What the participant page shows before joining.",
        "parameters": [_path_param("public_id")],
        "responses": {"200": _answer("title, kind, instructions, consent text, minimum window, open, window, "
                                     "fullscreen, gap_ms, questionnaire, not_open_message"),
                      "404": _ERROR}}},
    "/api/participate/{public_id}/join/": {"post": {
        "operationId": "participate_join", "summary": "Join with consent; returns the participant token.",
        "parameters": [_path_param("public_id")], "requestBody": _json(JOIN_BODY),
        "responses": {"201": _answer("Joined: {\"participant_token\"}"),
                      "200": _answer("Joined before (same PROLIFIC_PID / workerId, or client_key): the same "
                                     "{\"participant_token\"}"),
                      "400": _ERROR, "404": _ERROR, "409": _ERROR, "413": _ERROR, "415": _ERROR, "429": _ERROR}}},
    "/api/participate/screen/": {"post": {
        "operationId": "participate_screen", "summary": "Record the participant's screen.",
        "parameters": [_TOKEN], "requestBody": _json({"$ref": "#/components/schemas/ParticipantScreen"}),
        "responses": {"200": _answer("{\"ok\": true}"), "400": _ERROR, "401": _ERROR, "413": _ERROR,
                      "415": _ERROR}}},
    "/api/participate/next/": {"get": {
        "operationId": "participate_next", "summary": "The next trial, or the completion code when done.",
        "parameters": [_TOKEN],
        "responses": {"200": _answer("{trial_id, kind, input_url, left_url, right_url | candidates, practice, "
                                     "progress, upcoming, min_view_ms, expected} or {done, completion_code, "
                                     "questionnaire, redirect_url?}"),
                      "401": _ERROR, "409": _ERROR}}},
    "/api/participate/trials/{trial_id}/response/": {"post": {
        "operationId": "participate_vote", "summary": "Answer a trial (exactly once per trial).",
        "parameters": [_TOKEN, _path_param("trial_id")], "requestBody": _json(VOTE_BODY),
        "responses": {"201": _answer("Stored: {\"stored\": true}"),
                      "200": _answer("The same answer was already stored: {\"stored\": false}"),
                      "400": _ERROR, "401": _ERROR, "404": _ERROR, "409": _ERROR, "413": _ERROR}}},
    "/api/participate/questionnaire/": {"post": {
        "operationId": "participate_questionnaire", "summary": "The end questionnaire's answers (once).",
        "parameters": [_TOKEN], "requestBody": _json(_questionnaire_body()),
        "responses": {"201": _answer("Stored: {\"stored\": true}"),
                      "200": _answer("The same answers were already stored: {\"stored\": false}"),
                      "400": _ERROR, "401": _ERROR, "409": _ERROR, "413": _ERROR, "415": _ERROR}}},
    "/api/participate/img/{token}/": {"get": {
        "operationId": "participate_image", "summary": "A trial's image behind an opaque per-trial token.",
        "parameters": [_path_param("token")],
        "responses": {"200": _answer("JPEG", {"type": "string", "format": "binary"}, "image/jpeg"),
                      "404": {"description": "No such image."}}}},
}


def add_participant_endpoints(result, generator, request, public):
    """drf-spectacular postprocessing hook: the participant endpoints, tagged ``participate``."""
    result.setdefault("components", {}).setdefault("schemas", {})["ParticipantScreen"] = SCREEN_BODY
    for path, operations in PARTICIPANT_PATHS.items():
        result.setdefault("paths", {})[path] = {
            method: {**operation, "tags": ["participate"], "security": [{}]}
            for method, operation in operations.items()}
    return result
