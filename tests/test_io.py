import cv2
import numpy as np
import pytest

from matting.errors import DataError
from matting.io.images import list_images, read_alpha, read_image


def test_grayscale_rgba_and_16_bit_files_read_as_uint8_rgb(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 200, 7  # red in BGRA order, alpha 7
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((3, 4, 3), 65535, np.uint16))

    image = read_image(tmp_path / "gray.png")
    assert image.shape == (3, 4, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 1], gray)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png")[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png"), 255)
    np.testing.assert_array_equal(read_alpha(tmp_path / "rgba.png"), 7)


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty file"), (b"not an image at all", "not a readable image")],
)
def test_unreadable_files_name_the_path_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as error:
        read_image(path)
    assert str(path) in str(error.value)


def test_truncated_png_is_a_data_error(tmp_path):
    ok, data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    path = tmp_path / "cut.png"
    path.write_bytes(data.tobytes()[: len(data) // 2])
    with pytest.raises(DataError, match="cut.png"):
        read_image(path)


def test_missing_or_empty_folders(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        list_images(tmp_path / "nope")
    with pytest.raises(DataError, match="holds no images"):
        list_images(tmp_path)


@pytest.mark.parametrize("channel", [0, 2])
def test_colour_alpha_is_refused(tmp_path, channel):
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., channel] = 9
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    with pytest.raises(DataError, match="single-channel"):
        read_alpha(tmp_path / "colour.png")


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    pixels = np.zeros((2, 3, 3), np.uint8)
    pixels[0, 0] = [255, 0, 0]  # red top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif)
    image = read_image(tmp_path / "rotated.png")
    assert image.shape == (3, 2, 3)
    np.testing.assert_array_equal(image[0, 1], [255, 0, 0])  # red is now top-right


def test_images_over_max_pixels_are_refused_before_decoding(tmp_path):
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((100, 200, 3), np.uint8))
    assert read_image(tmp_path / "big.png", max_pixels=20_000).shape == (100, 200, 3)
    with pytest.raises(
        DataError, match=r"big.png: 200x100 is 20,000 pixels, over the limit of 19,999 pixels"
    ):
        read_image(tmp_path / "big.png", max_pixels=19_999)


def test_cmyk_jpeg_reads_as_rgb(tmp_path):
    from PIL import Image

    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")  # pure red in CMYK
    image = read_image(tmp_path / "cmyk.jpg")
    assert image.shape == (6, 8, 3)
    assert image[..., 0].mean() > 200 and image[..., 1].mean() < 60 and image[..., 2].mean() < 60


@pytest.mark.parametrize("width", [1, 7, 8, 13, 640])
def test_grayscale_pngs_decode_to_the_same_pixels_everywhere(width):
    """The builder's own PNG writer: OpenCV, TensorFlow and Pillow (which checks every CRC) read
    back exactly what was written, for 8-bit mattes and 1-bit masks of any width."""
    import io

    import tensorflow as tf
    from PIL import Image

    from matting.io.codecs import encode_png

    rng = np.random.default_rng(width)
    matte = rng.integers(0, 256, (9, width), np.uint8)
    matte[4:] = 255  # constant rows and columns, as in real mattes
    mask = np.where(rng.random((9, width)) < 0.5, 255, 0).astype(np.uint8)
    for image, bilevel in ((matte, False), (mask, True), (mask // 255 * 3, True)):
        data = encode_png(image, bilevel=bilevel)
        expected = np.where(image > 0, 255, 0) if bilevel else image
        np.testing.assert_array_equal(
            cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), expected
        )
        np.testing.assert_array_equal(tf.io.decode_png(data)[..., 0].numpy(), expected)
        with Image.open(io.BytesIO(data)) as png:
            png.verify()
        with Image.open(io.BytesIO(data)) as png:
            np.testing.assert_array_equal(np.asarray(png.convert("L")), expected)


def test_png_encoding_refuses_what_it_cannot_write():
    from matting.io.codecs import encode_png

    with pytest.raises(ValueError, match=r"uint8 \[H, W\] array, not float32"):
        encode_png(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"not uint8 \(0, 4\)"):
        encode_png(np.zeros((0, 4), np.uint8))


def test_a_path_that_is_not_an_image_file_says_what_it_is(tmp_path):
    from matting.io.images import read_image

    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "broken.png").symlink_to(tmp_path / "gone.png")
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    reasons = {
        "folder.jpg": "a folder, not an image file",
        "broken.png": rf"a broken link \(to {tmp_path / 'gone.png'}, which does not exist\)",
        "a.png": "a loop of symbolic links",
        "missing.png": "no such file",
    }
    for name, reason in reasons.items():
        with pytest.raises(DataError, match=rf"{tmp_path / name}: {reason}$"):
            read_image(tmp_path / name)


def test_the_foreground_of_a_single_pixel_is_its_own_colour():
    from matting.data.composite import estimate_foreground

    pixel = np.array([[[200, 100, 50]]], np.uint8)
    np.testing.assert_allclose(estimate_foreground(pixel, np.array([[0.5]])), pixel / 255.0)
    assert estimate_foreground(np.zeros((2, 2, 3), np.uint8), np.full((2, 2), 0.5)).shape == (2, 2, 3)


def test_an_opaque_rgba_mask_gives_its_gray_and_a_name_its_readable_file(tmp_path):
    from matting.io.images import files_by_stem

    gray = np.zeros((6, 8), np.uint8)
    gray[:, 4:] = 255
    drawn = np.dstack([gray, gray, gray, np.full_like(gray, 255)])  # saved opaque by an editor
    cv2.imwrite(str(tmp_path / "drawn.png"), drawn)
    np.testing.assert_array_equal(read_alpha(tmp_path / "drawn.png"), gray)
    matte = np.dstack([np.full((6, 8, 3), 200, np.uint8), gray])  # a cut-out: its alpha, as ever
    cv2.imwrite(str(tmp_path / "cutout.png"), matte)
    np.testing.assert_array_equal(read_alpha(tmp_path / "cutout.png"), gray)

    (tmp_path / "drawn.svg").write_text("<svg/>")
    assert files_by_stem(tmp_path)["drawn"].name == "drawn.png"  # not the SVG beside it


def test_postscript_is_never_opened(tmp_path):
    """Pillow opens EPS through Ghostscript: the readers refuse it like any file they cannot read."""
    eps = tmp_path / "page.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(DataError, match="page.jpg: not a readable image"):
        read_image(eps)
