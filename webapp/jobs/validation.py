"""Check a job's ``inputs`` against its engine's declared inputs before anything is stored."""

from __future__ import annotations

from inference.engines import EngineSpec


def _refuse(message: str):
    from webapp.jobs.services import JobRefused

    raise JobRefused(message)


def _int_id(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        _refuse(f"inputs.{what} must be a positive integer id")
    return value


def validate_job_inputs(spec: EngineSpec, inputs, user) -> dict:
    from webapp.photos.models import Mask
    from webapp.photos.selectors import photos_visible_to

    if not isinstance(inputs, dict):
        _refuse("inputs must be an object")
    allowed = {"photo", "mask", "clicks", "reference"}
    unknown = set(inputs) - allowed
    if unknown:
        _refuse(f"unknown input(s): {', '.join(sorted(unknown))}")
    clean: dict = {}
    photo = None
    if "image" in spec.inputs:
        if "photo" not in inputs:
            _refuse(f"engine {spec.name} needs inputs.photo")
        photo = photos_visible_to(user).filter(pk=_int_id(inputs["photo"], "photo")).first()
        if photo is None:
            _refuse(f"photo {inputs['photo']} does not exist or is not visible to you")
        clean["photo"] = photo.pk

    def own_mask(mask_id, what):
        mask = Mask.objects.filter(pk=_int_id(mask_id, what), photo=photo).first()
        if mask is None:
            _refuse(f"{what} {mask_id} is not a mask of photo {photo.pk}")
        return mask.pk

    if "mask" in inputs:
        clean["mask"] = own_mask(inputs["mask"], "mask")
    elif "mask" in spec.inputs:
        _refuse(f"engine {spec.name} needs inputs.mask (the foreground mask's id)")
    if "clicks" in spec.inputs or "clicks" in inputs:
        clean["clicks"] = validate_clicks(inputs.get("clicks", []), photo)
    if "reference" in spec.inputs:
        reference = inputs.get("reference")
        if not isinstance(reference, dict) or len(reference) != 1 or not ({"box", "mask"} & set(reference)):
            _refuse('inputs.reference must be {"box": [x0, y0, x1, y1]} or {"mask": id}')
        if "box" in reference:
            clean["reference"] = {"box": validate_box(reference["box"], photo)}
        else:
            clean["reference"] = {"mask": own_mask(reference["mask"], "reference.mask")}
    return clean


def validate_clicks(clicks, photo) -> list[dict]:
    if not isinstance(clicks, list):
        _refuse("clicks must be a list of {x, y, positive}")
    if len(clicks) > 200:
        _refuse("at most 200 clicks are accepted")
    clean = []
    for i, click in enumerate(clicks):
        if not isinstance(click, dict) or not {"x", "y"} <= set(click):
            _refuse(f"clicks[{i}] must be an object with x, y and positive")
        x, y, positive = click["x"], click["y"], click.get("positive", True)
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (x, y)):
            _refuse(f"clicks[{i}]: x and y must be numbers")
        if not isinstance(positive, bool):
            _refuse(f"clicks[{i}].positive must be true or false")
        if photo is not None and not (0 <= x < photo.width and 0 <= y < photo.height):
            _refuse(f"clicks[{i}] at ({x}, {y}) lies outside the {photo.width} × {photo.height} image")
        clean.append({"x": float(x), "y": float(y), "positive": positive})
    return clean


def validate_box(box, photo) -> list[float]:
    if not isinstance(box, list) or len(box) != 4 or any(
            isinstance(v, bool) or not isinstance(v, int | float) for v in box):
        _refuse("reference.box must be [x0, y0, x1, y1] in pixels")
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = sorted((max(0.0, x0), min(float(photo.width), x1)))
    y0, y1 = sorted((max(0.0, y0), min(float(photo.height), y1)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        _refuse("reference.box must cover at least 2 × 2 pixels inside the image")
    return [x0, y0, x1, y1]
