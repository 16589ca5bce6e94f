"""The annotation workspace's Django-free maths: ICC, M_GLC, XMP interchange, group tone matching."""

import numpy as np
import pytest

from inference import agreement, xmp
from inference.colour import lab_to_srgb
from inference.render import IDENTITY_PARAMS


def test_icc_of_a_hand_computed_table():
    # Rater 2 is always 2 higher. Row means 2, 3, 4; column means 2, 4; grand mean 3.
    # MS_R = 2·(1 + 0 + 1)/2 = 2, MS_C = 3·(1 + 1)/1 = 6, SS_total = 10 = SS_R 4 + SS_C 6 → MS_E = 0.
    # ICC(C,1) = (2 − 0)/(2 + 0) = 1; ICC(A,1) = 2/(2 + 0 + 2·(6 − 0)/3) = 1/3.
    table = [[1, 3], [2, 4], [3, 5]]
    assert agreement.icc_consistency(table) == pytest.approx(1.0)
    assert agreement.icc_absolute(table) == pytest.approx(1 / 3)
    assert agreement.style_offsets(table).tolist() == pytest.approx([-1.0, 1.0])


def test_icc_matches_shrout_and_fleiss_1979():
    # Their Table 2 (6 targets × 4 judges): ICC(2,1) = .29 = ICC(A,1), ICC(3,1) = .71 = ICC(C,1).
    table = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    assert agreement.icc_absolute(table) == pytest.approx(0.290, abs=5e-4)
    assert agreement.icc_consistency(table) == pytest.approx(0.715, abs=5e-4)


def test_icc_refuses_tables_it_cannot_rate():
    with pytest.raises(ValueError):
        agreement.icc_absolute([[1, 2]])
    with pytest.raises(ValueError):
        agreement.icc_consistency([[1, np.nan], [2, 3]])
    assert agreement.icc_absolute([[4, 4], [4, 4]]) == 1.0  # no variance: perfect agreement


def _flat(lab, size=(6, 8)):
    return np.broadcast_to(lab_to_srgb(np.array(lab, np.float32)), (*size, 3)).astype(np.float32)


def test_group_glc_of_a_hand_computed_group():
    # Mean a* = 0, 10, 20 → sample variance 100; mean b* = 0, 0, 6 → mean 2, variance (4+4+16)/2 = 12.
    # PPR10K's released M_GLC averages the two: (100 + 12)/2 = 56 (the paper's Eq. 2 would say 112).
    images = [_flat([50, 0, 0]), _flat([50, 10, 0]), _flat([50, 20, 6])]
    assert agreement.group_glc(images) == pytest.approx(56.0, abs=0.05)
    assert agreement.glc_from_means([[0, 0], [10, 0], [20, 6]]) == pytest.approx(56.0)
    assert agreement.group_glc(images[:1]) == 0.0
    assert agreement.project_glc([56.0, 4.0]) == 30.0
    assert agreement.glc_outlier([[0, 0], [1, 0], [30, 5]]) == 2


def test_pairwise_delta_e_per_slot_pair():
    a = [_flat([50, 0, 0])]
    b = [_flat([50, 3, 4])]
    mask = np.zeros((6, 8), np.float32)
    rows = agreement.pairwise_delta_e({"a": a, "b": b}, [mask])
    assert rows[0]["slots"] == ["a", "b"]
    assert rows[0]["delta_e76"] == pytest.approx(5.0, abs=0.05)
    assert rows[0]["delta_e_hc"] == pytest.approx(2.5, abs=0.05)  # background weighs 0.5


def test_xmp_round_trip():
    params = {**IDENTITY_PARAMS, "exposure": 0.55, "contrast": 12, "highlights": -40, "shadows": 25,
              "whites": 5, "blacks": -8, "temperature": 18, "tint": -6, "vibrance": 20, "saturation": -10,
              "texture": 15, "clarity": 10, "dehaze": 5,
              "tone_curve": [[0.0, 0.0], [64 / 255, 50 / 255], [192 / 255, 210 / 255], [1.0, 1.0]]}
    text = xmp.write_xmp(params)
    assert 'crs:Exposure2012="+0.55"' in text and 'crs:IncrementalTemperature="+18"' in text
    back = xmp.read_xmp(text)
    assert back.unsupported == {} and back.notes == []
    for key, value in params.items():
        if key == "tone_curve":
            assert np.allclose(back.params[key], value, atol=1e-6)
        else:
            assert back.params[key] == pytest.approx(value), key


def test_xmp_reports_unsupported_keys_and_clamps():
    text = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{xmp.RDF}">
      <rdf:Description xmlns:crs="{xmp.CRS}" crs:Version="12.0" crs:Exposure2012="+6.00"
         crs:Sharpness="25" crs:Temperature="5200"><crs:ToneCurvePV2012><rdf:Seq>
         <rdf:li>0, 0</rdf:li><rdf:li>255, 255</rdf:li></rdf:Seq></crs:ToneCurvePV2012>
      <crs:HSLHue><rdf:Seq><rdf:li>1</rdf:li><rdf:li>2</rdf:li></rdf:Seq></crs:HSLHue>
      </rdf:Description></rdf:RDF></x:xmpmeta>"""
    found = xmp.read_xmp(text)
    assert found.params == {"exposure": 5.0, "tone_curve": []}
    assert found.unsupported == {"Sharpness": "25", "Temperature": "5200", "HSLHue": "1; 2"}
    assert "clamped" in found.notes[0]
    with pytest.raises(xmp.XmpError):
        xmp.read_xmp("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>")
    with pytest.raises(xmp.XmpError):
        xmp.read_xmp("not xml")


def test_match_group_tone_pulls_a_warm_outlier_back():
    from inference.tone_match import match_group_tone

    rng = np.random.default_rng(3)
    base = np.clip(0.45 + 0.1 * rng.standard_normal((40, 60, 3)), 0, 1).astype(np.float32)
    warm = np.clip(base * np.array([1.1, 1.0, 0.9], np.float32), 0, 1)
    dark = np.clip(base * 0.6, 0, 1)
    images = [base, warm, dark]
    params = [dict(IDENTITY_PARAMS) for _ in images]
    result = match_group_tone(images, params, [None, None, None], reference=0)
    assert result.params[0] == IDENTITY_PARAMS
    assert result.glc_after < 0.1 * result.glc_before
    assert result.params[1]["temperature"] < -5  # cooled down
    assert result.params[2]["exposure"] > 0.3  # brightened
