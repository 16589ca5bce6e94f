"""inference.engines.common.image_and_mask: the image and optional mask checks the engines share."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engines.common import image_and_mask
from inference.interface import EngineInputError


def test_no_mask_gives_none_and_the_checked_image():
    image, mask = image_and_mask({"image": np.full((4, 5, 3), 255, np.uint8)})
    assert mask is None and image.dtype == np.float32 and image.shape == (4, 5, 3) and image.max() == 1.0


def test_the_mask_is_checked_against_the_images_size_under_its_given_name():
    image = np.zeros((4, 5, 3), np.float32)
    with pytest.raises(EngineInputError, match=r"mask \(the skin region\) must be 4×5"):
        image_and_mask({"image": image, "mask": np.ones((5, 4), np.float32)}, "mask (the skin region)")
    _, mask = image_and_mask({"image": image, "mask": np.full((4, 5), 255, np.uint8)})
    assert mask.dtype == np.float32 and mask.min() == 1.0


def test_an_empty_mask_is_refused_only_when_asked():
    inputs = {"image": np.zeros((4, 5, 3), np.float32), "mask": np.zeros((4, 5), np.float32)}
    assert image_and_mask(inputs)[1].max() == 0.0
    with pytest.raises(EngineInputError, match="the person.*empty"):
        image_and_mask(inputs, "mask (the person)", allow_empty=False)
