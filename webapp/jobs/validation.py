"""Check a job's ``inputs`` against its engine's declared inputs before anything is stored."""

from __future__ import annotations

from inference import encoding
from inference.engines import EngineSpec
from webapp.photos.inputs import validate_box, validate_clicks
from webapp.photos.models import Mask, Photo
from webapp.photos.selectors import photos_visible_to
from webapp.refusal import Refusal

INPUTS = {"photo", "mask", "clicks", "reference", "background"}


def _int_id(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Refusal(f"inputs.{what} must be a positive integer id")
    return value


def validate_job_inputs(spec: EngineSpec, inputs, user) -> dict:
    if not isinstance(inputs, dict):
        raise Refusal("inputs must be an object")
    unknown = set(inputs) - INPUTS
    if unknown:
        raise Refusal(f"unknown input(s): {', '.join(sorted(unknown))}")
    clean: dict = {}
    photo = None
    if "image" in spec.inputs:
        if "photo" not in inputs:
            raise Refusal(f"engine {spec.name} needs inputs.photo")
        photo = photos_visible_to(user).prefetch_related(None).filter(pk=_int_id(inputs["photo"], "photo")).first()
        if photo is None:
            raise Refusal(f"photo {inputs['photo']} does not exist or is not visible to you")
        clean["photo"] = photo.pk

    def own_mask(mask_id, what):
        mask = Mask.objects.filter(pk=_int_id(mask_id, what), photo=photo).first()
        if mask is None:
            raise Refusal(f"{what} {mask_id} is not a mask of photo {photo.pk}")
        return mask.pk

    if "mask" in inputs:
        clean["mask"] = own_mask(inputs["mask"], "mask")
    elif "mask" in spec.inputs:
        raise Refusal(f"engine {spec.name} needs inputs.mask (the foreground mask's id)")
    if "background" in spec.inputs:  # a second photo (background.replace)
        if "background" not in inputs:
            raise Refusal(f"engine {spec.name} needs inputs.background (a photo id)")
        background = photos_visible_to(user).filter(pk=_int_id(inputs["background"], "background")).first()
        if background is None:
            raise Refusal(f"photo {inputs['background']} does not exist or is not visible to you")
        clean["background"] = background.pk
    elif "background" in inputs:
        raise Refusal(f"engine {spec.name} takes no inputs.background")
    if "clicks" in spec.inputs or "clicks" in inputs:
        clean["clicks"] = validate_clicks(inputs.get("clicks", []), photo)
    if "reference" in spec.inputs:
        reference = inputs.get("reference")
        if not isinstance(reference, dict) or len(reference) != 1 or not ({"box", "mask"} & set(reference)):
            raise Refusal('inputs.reference must be {"box": [x0, y0, x1, y1]} or {"mask": id}')
        if "box" in reference:
            clean["reference"] = {"box": validate_box(reference["box"], photo)}
        else:
            clean["reference"] = {"mask": own_mask(reference["mask"], "reference.mask")}
    return clean


def validate_output_format(output_format, clean_inputs: dict) -> None:
    """``png`` (lossless), ``jpeg`` or ``webp``, and one that can hold the photo's size."""
    if not isinstance(output_format, str) or output_format not in encoding.FORMATS:
        raise Refusal(f"output_format must be one of {', '.join(encoding.FORMATS)} (got {output_format!r})")
    if output_format in encoding.SIZE_LIMITED:
        size = Photo.objects.filter(pk=clean_inputs.get("photo")).values_list("width", "height").first()
        problem = encoding.check_format(output_format, *(size or (0, 0)))
        if problem:
            raise Refusal(problem)
