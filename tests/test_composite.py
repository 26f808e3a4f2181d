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
        placed = place_foreground(fg, alpha, (80, 60), rng, scale_range=(0.5, 0.9))
        canvas_fg, canvas_alpha = placed.canvas_fg(), placed.canvas_alpha()
        assert canvas_fg.shape == (80, 60, 3) and canvas_alpha.shape == (80, 60)
        rows = np.nonzero(canvas_alpha.max(axis=1))[0]
        assert rows.max() == 79  # touches the bottom
        assert 0.45 * 80 <= len(rows) <= 0.95 * 80  # height within the scale range (rounding)


def test_placed_foreground_over_a_background_is_the_float_composite_rounded():
    rng = np.random.default_rng(2)
    fg = rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (50, 40), dtype=np.uint8)
    bg = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    for _ in range(10):  # offsets put part of the foreground out of frame on either side
        placed = place_foreground(fg, alpha, (64, 48), rng, scale_range=(0.5, 1.0), max_offset=0.4)
        a = placed.canvas_alpha() / 255.0
        expected = composite(placed.canvas_fg() / 255.0, bg / 255.0, a) * 255.0
        got = placed.over(bg)
        assert got.dtype == np.uint8 and got.shape == bg.shape
        assert np.abs(got - expected).max() <= 0.5 + 1e-3  # rounded once, from the exact blend
        assert np.array_equal(got[a == 0], bg[a == 0])  # untouched outside the foreground


def test_a_foreground_placed_out_of_frame_leaves_the_background():
    rng = np.random.default_rng(3)
    fg, alpha = np.ones((10, 4, 3), np.uint8), np.full((10, 4), 255, np.uint8)
    bg = np.full((20, 20, 3), 7, np.uint8)
    empty = 0
    for _ in range(40):  # offsets of up to 3 canvas widths: most draws land out of frame
        placed = place_foreground(fg, alpha, (20, 20), rng, scale_range=(1.0, 1.0), max_offset=3.0)
        if placed.alpha.size == 0:
            empty += 1
            assert np.array_equal(placed.over(bg), bg) and placed.canvas_alpha().max() == 0
    assert empty > 0


def test_resize_averages_to_shrink_and_interpolates_to_enlarge():
    from matting.data.composite import resize_image

    stripes = np.tile(np.array([0, 0, 255], np.uint8), (4, 4))  # [4, 12]: a bright column in three
    assert resize_image(stripes, (4, 4)).tolist() == [[85] * 4] * 4  # area: each three averaged (bilinear: 0)
    ramp = np.array([[0, 100]], np.uint8)
    # bilinear: the new middle columns lie between the two values (area would repeat them)
    enlarged = resize_image(ramp, (1, 4))
    assert enlarged.tolist() == [[0, 25, 75, 100]]


def test_max_drop_sinks_the_person_below_the_bottom_edge():
    fg = np.ones((40, 30, 3), np.float32)
    alpha = np.ones((40, 30), np.float32)
    visible = []
    for seed in range(30):
        placed = place_foreground(fg, alpha, (80, 60), np.random.default_rng(seed), scale_range=(0.8, 0.8),
                                  max_drop=0.5)  # fmt: skip
        rows = np.nonzero(placed.canvas_alpha().max(axis=1))[0]
        assert rows.max() == 79  # still reaching the bottom edge, cut there
        visible.append(len(rows))
    # The person is 64 rows high (0.8 of 80): up to 32 of them sink below the edge.
    assert 32 <= min(visible) < 48
