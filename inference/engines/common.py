"""Small pieces the engine files share (not an engine: nothing here is registered)."""

from __future__ import annotations

from typing import Any

import numpy as np

from inference.segmentation import check_image, check_mask


def image_and_mask(inputs: dict[str, Any], mask_name: str = "mask",
                   allow_empty: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``image`` input checked, and the optional ``mask`` input checked against its size
    (``None`` when not given). ``mask_name`` is how an error names the mask to the user."""
    image = check_image(inputs.get("image"))
    mask = inputs.get("mask")
    if mask is not None:
        mask = check_mask(mask, image.shape[0], image.shape[1], mask_name, allow_empty=allow_empty)
    return image, mask
