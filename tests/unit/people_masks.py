"""Hand-drawn people masks of the photos the platform ships (scikit-image's ``astronaut`` and
``camera``, see webapp/pages/first_run.py), as polygons in the photos' pixels (x, y).

Drawn on 2× zoomed, gridded views and checked on overlays. Conventions: the person includes hair,
clothes, gloves and the space suit's neck ring; objects held or touched (the astronaut's helmet, the
camera and tripod) are not people. ``tests/data/people_masks/<name>.png`` holds the rasterised
masks (0 / 255); ``test_people_masks.py`` checks they match these polygons.
"""

from __future__ import annotations

import cv2
import numpy as np

POLYGONS: dict[str, list[list[tuple[int, int]]]] = {
    "astronaut": [
        [
            (225, 14), (250, 16), (272, 25), (290, 42), (300, 62), (302, 85), (298, 105), (292, 112),
            (272, 130), (270, 142), (272, 155), (283, 170), (293, 190), (300, 210), (304, 228), (315, 240),
            (340, 258), (357, 300), (362, 340), (360, 345), (320, 360), (295, 395), (282, 430), (277, 470),
            (277, 512), (22, 512), (22, 500), (20, 440), (22, 380), (30, 330), (37, 300), (47, 272), (65, 240),
            (85, 220), (110, 205), (117, 185), (130, 165), (150, 150), (175, 145), (177, 125), (165, 115),
            (155, 85), (155, 55), (165, 35), (185, 20), (205, 15),
        ],
    ],
    "camera": [
        [
            (200, 66), (225, 68), (245, 78), (258, 92), (266, 108), (262, 118), (257, 130), (254, 145),
            (256, 162), (250, 172), (245, 181), (240, 190), (243, 203), (246, 212), (250, 232), (260, 248),
            (263, 247), (263, 215), (268, 195), (290, 186), (305, 170), (318, 166), (328, 172), (333, 188),
            (331, 208), (324, 222), (312, 232), (300, 246), (294, 258), (290, 275), (287, 295), (272, 304),
            (257, 310), (245, 312), (228, 305), (210, 293), (195, 312), (180, 332), (165, 352), (152, 372),
            (146, 390), (146, 440), (148, 512), (0, 512), (0, 255), (8, 245), (15, 235), (22, 222), (30, 210),
            (38, 198), (46, 185), (52, 172), (58, 162), (63, 152), (70, 145), (78, 138), (88, 132), (100, 128),
            (112, 124), (125, 120), (136, 116), (150, 108), (158, 100), (162, 85), (170, 75), (185, 68),
        ],
    ],
}


def render(name: str, height: int = 512, width: int = 512) -> np.ndarray:
    """The hand-drawn mask of ``name`` as an H×W uint8 array of 0 / 255."""
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.array(p, np.int32) for p in POLYGONS[name]], 255)
    return mask
