"""The web page's work without the page (matting.app.Matter): outputs, given masks, bad uploads."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from awkward import write_corpus

from matting.app import Matter, checkerboard, drawn_mask, failure, parse_colour
from matting.errors import DataError
from matting.inference.pipeline import MattingPipeline
from matting.io.images import read_image


def half_pipeline(calls: list | None = None) -> MattingPipeline:
    """A pipeline whose alpha is 1 on the left half: the same outputs whatever the photo."""

    def backend(images):
        alpha = np.zeros((*images.shape[:3], 1), np.float32)
        alpha[:, :, : images.shape[2] // 2] = 1.0
        return alpha

    pipeline = MattingPipeline(backend)
    pipeline.refine = lambda image, mask: np.asarray(
        cv2.resize(np.asarray(mask, np.float32), image.shape[1::-1]), np.float32
    )
    return pipeline


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "upload" / "photo.png"
    path.parent.mkdir()
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (30, 40, 3), np.uint8))
    return path


def test_a_photo_gives_alpha_cutout_new_background_and_an_rgba_png(photo, tmp_path):
    matted = Matter(half_pipeline(), tmp_path / "work").matte(photo, colour="#0000ff", name="mine.png")
    assert (
        matted.alpha.shape == (30, 40)
        and matted.alpha[:, :20].min() == 255
        and matted.alpha[:, 20:].max() == 0
    )
    np.testing.assert_array_equal(matted.on_background[:, 20:], np.broadcast_to([0, 0, 255], (30, 20, 3)))
    np.testing.assert_array_equal(matted.cutout[:, 20:], np.rint(checkerboard((30, 40))[:, 20:] * 255))
    rgba = cv2.imread(str(matted.png), cv2.IMREAD_UNCHANGED)
    assert matted.png.name == "mine_rgba.png" and rgba.shape == (30, 40, 4)
    np.testing.assert_array_equal(rgba[..., 3], matted.alpha)
    assert (tmp_path / "work") in matted.png.parents  # everything under the app's temporary folder
    assert (
        matted.message.startswith("mine.png: 40x30, matted in ")
        and "(coarse net and refinement)" in matted.message
    )


def test_a_given_mask_or_drawing_is_refined_alone_and_a_background_photo_is_used(photo, tmp_path):
    mask = tmp_path / "mask.png"
    mask_pixels = np.zeros((15, 20), np.uint8)  # half the photo's size, its aspect
    mask_pixels[:, 15:] = 255
    cv2.imwrite(str(mask), mask_pixels)
    background = tmp_path / "bg.png"
    cv2.imwrite(str(background), np.full((10, 10, 3), (0, 255, 0), np.uint8))  # BGR: green
    matter = Matter(half_pipeline(), tmp_path / "work")
    matted = matter.matte(photo, mask=mask, background=background)
    assert matted.alpha[:, :28].max() == 0 and matted.alpha[:, 32:].min() == 255  # the mask's, not the net's
    assert "refined from your mask" in matted.message
    np.testing.assert_array_equal(matted.on_background[:, 0], np.broadcast_to([0, 255, 0], (30, 3)))
    drawn = np.zeros((30, 40), np.float32)
    drawn[:10] = 1.0
    assert matter.matte(photo, drawn=drawn).alpha[:10].min() == 255

    layer = np.zeros((30, 40, 4), np.uint8)
    assert drawn_mask({"layers": [layer]}) is None and drawn_mask(None) is None
    layer[5:8, 2:4] = (255, 51, 102, 255)
    np.testing.assert_array_equal(np.argwhere(drawn_mask({"layers": [layer]})).min(0), [5, 2])


def test_bad_uploads_are_messages_naming_the_file_as_the_user_named_it(photo, tmp_path):
    matter = Matter(half_pipeline(), tmp_path / "work", max_pixels=10_000)
    stored = tmp_path / "upload" / "x1f3" / "holiday.jpg"
    stored.parent.mkdir()
    stored.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"^holiday\.jpg: not a readable image") as error:
        matter.matte(stored)
    assert str(tmp_path) not in str(error.value)
    with pytest.raises(DataError, match=r"^photo\.png: 40x30 is 1,200 pixels, over the limit of 100 pixels"):
        Matter(half_pipeline(), tmp_path / "work", max_pixels=100).matte(photo)
    with pytest.raises(DataError, match="no photo"):
        matter.matte(None)
    mask = tmp_path / "square.png"
    cv2.imwrite(str(mask), np.zeros((30, 30), np.uint8))
    with pytest.raises(DataError, match=r"^square\.png: a 30x30 mask does not fit its 40x30 image"):
        matter.matte(photo, mask=mask)
    with pytest.raises(DataError, match="the drawn mask"):
        matter.matte(photo, drawn=np.ones((30, 30), np.float32))
    with pytest.raises(DataError, match="background colour 'teal'"):
        matter.matte(photo, colour="teal")
    assert (
        failure(ZeroDivisionError("division by zero"))
        == "matting failed (ZeroDivisionError: division by zero)"
    )


def test_colour_picker_values():
    assert parse_colour("#00b140") == (0, 177, 64) and parse_colour("#fff") == (255, 255, 255)
    assert parse_colour("rgba(12, 34.4, 255, 1)") == (12, 34, 255)
    for bad in ("", None, "rgb(300, 0, 0)", "#12345"):
        with pytest.raises(DataError):
            parse_colour(bad)


def test_every_awkward_upload_is_matted_at_its_size_or_named_with_its_problem(tmp_path):
    folder = tmp_path / "corpus"
    cases = write_corpus(folder)
    matter = Matter(half_pipeline(), tmp_path / "work", max_pixels=100_000_000)
    for case in cases:
        if case.size is None:
            with pytest.raises(DataError) as error:
                matter.matte(folder / case.name)
            assert str(error.value).startswith(case.name), case.name
            continue
        matted = matter.matte(folder / case.name)
        width, height = case.size
        assert read_image(matted.png).shape == (height, width, 3), case.name
