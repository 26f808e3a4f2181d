import numpy as np

from matting.data.composite import composite, cover_crop, place_foreground


def test_composite_alpha_one_is_foreground_and_zero_is_background():
    fg = np.full((4, 5, 3), 0.8, np.float32)
    bg = np.full((4, 5, 3), 0.1, np.float32)
    np.testing.assert_allclose(composite(fg, bg, np.ones((4, 5), np.float32)), fg)
    np.testing.assert_allclose(composite(fg, bg, np.zeros((4, 5), np.float32)), bg)


def test_composite_blends_linearly():
    fg, bg = np.ones((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.float32)
    alpha = np.array([[0.25, 0.5], [0.75, 1.0]], np.float32)
    np.testing.assert_allclose(composite(fg, bg, alpha)[..., 0], alpha)


def test_cover_crop_gives_the_requested_size_without_padding():
    rng = np.random.default_rng(0)
    image = np.arange(30 * 50 * 3, dtype=np.float32).reshape(30, 50, 3) / 4500
    out = cover_crop(image, (64, 48), rng)
    assert out.shape == (64, 48, 3)
    assert out.min() >= image.min() and out.max() <= image.max()


def test_place_foreground_stands_on_the_bottom_edge_inside_the_canvas():
    rng = np.random.default_rng(1)
    fg = np.ones((40, 30, 3), np.float32)
    alpha = np.ones((40, 30), np.float32)
    for _ in range(20):
        canvas_fg, canvas_alpha = place_foreground(fg, alpha, (80, 60), rng, scale_range=(0.5, 0.9))
        assert canvas_fg.shape == (80, 60, 3) and canvas_alpha.shape == (80, 60)
        rows = np.nonzero(canvas_alpha.max(axis=1))[0]
        assert rows.max() == 79  # touches the bottom
        assert 0.45 * 80 <= len(rows) <= 0.95 * 80  # height within the scale range (rounding)
