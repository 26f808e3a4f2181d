"""Tests for matting.metrics (DIM-style SAD / MSE / MAD / Gradient / Connectivity, trimaps)."""

from collections import deque

import numpy as np
import pytest

from matting import metrics


def _smooth_random(shape, seed):
    """Deterministic non-constant float map in [0, 1]."""
    rng = np.random.default_rng(seed)
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.3 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.1 * rng.random(shape)
    return np.clip(base, 0.0, 1.0)


# --------------------------------------------------------------------------- perfect prediction


@pytest.mark.parametrize("name", metrics.METRIC_NAMES)
def test_perfect_prediction_scores_zero(name):
    gt = _smooth_random((24, 20), seed=0)
    gt[:5] = 0.0
    gt[-5:] = 1.0
    result = metrics.evaluate_alpha(gt.copy(), gt, metrics=[name])
    assert result[name] == 0.0
    assert result[f"{name}_unknown"] == 0.0


def test_direct_functions_zero_for_perfect_prediction():
    gt = _smooth_random((16, 16), seed=1)
    for fn in (
        metrics.sad,
        metrics.mse,
        metrics.mad,
        metrics.gradient_error,
        metrics.connectivity_error,
    ):
        assert fn(gt, gt) == 0.0


# --------------------------------------------------------------------------- SAD / MSE / MAD


def _four_by_four():
    gt = np.zeros((4, 4))
    pred = np.zeros((4, 4))
    pred[0, 0] = 0.5  # |err| 0.5,  err^2 0.25
    pred[1, 2] = 0.25  # |err| 0.25, err^2 0.0625
    gt[3, 3] = 1.0  # |err| 1.0,  err^2 1.0
    return pred, gt


def test_hand_computed_four_by_four():
    pred, gt = _four_by_four()
    # sum |err| = 0.5 + 0.25 + 1.0 = 1.75; sum err^2 = 0.25 + 0.0625 + 1.0 = 1.3125; N = 16
    assert metrics.sad(pred, gt) == pytest.approx(0.00175)
    assert metrics.mse(pred, gt) == pytest.approx(0.08203125)  # 1.3125 / 16
    assert metrics.mad(pred, gt) == pytest.approx(0.109375)  # 1.75 / 16


def test_region_restricts_sum_and_count():
    pred, gt = _four_by_four()
    region = np.zeros((4, 4), dtype=bool)
    region[:2] = True  # 8 pixels holding errors 0.5 and 0.25
    assert metrics.sad(pred, gt, region) == pytest.approx(0.00075)  # 0.75 / 1000
    assert metrics.mse(pred, gt, region) == pytest.approx(0.0390625)  # 0.3125 / 8
    assert metrics.mad(pred, gt, region) == pytest.approx(0.09375)  # 0.75 / 8


def test_empty_region_mean_is_nan_and_sum_is_zero():
    pred, gt = _four_by_four()
    empty = np.zeros((4, 4), dtype=bool)
    assert np.isnan(metrics.mse(pred, gt, empty))
    assert np.isnan(metrics.mad(pred, gt, empty))
    assert metrics.sad(pred, gt, empty) == 0.0


def test_constant_shift():
    rng = np.random.default_rng(3)
    gt = rng.uniform(0.0, 0.5, size=(6, 7))
    c, n = 0.25, 42
    pred = gt + c
    assert metrics.sad(pred, gt) == pytest.approx(c * n / 1000)
    assert metrics.mse(pred, gt) == pytest.approx(c**2)
    assert metrics.mad(pred, gt) == pytest.approx(c)


def test_region_must_be_bool():
    pred, gt = _four_by_four()
    with pytest.raises(ValueError, match="bool"):
        metrics.sad(pred, gt, np.ones((4, 4), dtype=np.uint8))


# --------------------------------------------------------------------------- gradient


def test_kernel_halfsize_for_sigma_1_4():
    # sqrt(2 pi) * 1.4 * 0.01 = 0.035093; -2 ln(.) = 6.6994; sqrt = 2.5883; * 1.4 = 3.624 -> 4
    assert metrics.gaussian_kernel_halfsize(1.4) == 4
    hx, hy = metrics.gaussian_gradient_kernels(1.4)
    assert hx.shape == hy.shape == (9, 9)
    assert np.sqrt((hx**2).sum()) == pytest.approx(1.0)
    np.testing.assert_array_equal(hy, hx.T)


def _reference_gaussgradient(image, sigma):
    """Literal port of DIM gaussgradient: 2-D kernel loops, imfilter 'replicate', 'conv'."""
    half = metrics.gaussian_kernel_halfsize(sigma)
    size = 2 * half + 1

    def gauss(x):
        return np.exp(-(x**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))

    hx = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            u0, u1 = i - half, j - half
            hx[i, j] = gauss(u0) * (-u1 * gauss(u1) / sigma**2)
    hx /= np.sqrt((np.abs(hx) ** 2).sum())
    hy = hx.T
    padded = np.pad(image, half, mode="edge")
    h, w = image.shape
    gx, gy = np.zeros((h, w)), np.zeros((h, w))
    for r in range(h):
        for c in range(w):
            # convolution: flip the kernel over the window centred at (r, c)
            window = padded[r : r + size, c : c + size][::-1, ::-1]
            gx[r, c] = (window * hx).sum()
            gy[r, c] = (window * hy).sum()
    return gx, gy


def test_gaussian_gradient_matches_literal_2d_convolution():
    image = np.random.default_rng(4).random((11, 13))
    gx, gy = metrics.gaussian_gradient(image, 1.4)
    ref_gx, ref_gy = _reference_gaussgradient(image, 1.4)
    np.testing.assert_allclose(gx, ref_gx, atol=1e-12)
    np.testing.assert_allclose(gy, ref_gy, atol=1e-12)


def test_gaussian_gradient_sign_and_axis():
    ramp_x = np.tile(np.arange(12, dtype=float), (10, 1))  # increases along columns
    gx, gy = metrics.gaussian_gradient(ramp_x)
    assert np.all(gx[:, 5:7] > 0)
    np.testing.assert_allclose(gy, 0.0, atol=1e-12)


def test_gradient_is_min_max_invariant():
    gt = _smooth_random((20, 18), seed=5)
    pred = 0.5 * gt + 0.2
    assert metrics.gradient_error(pred, gt) == pytest.approx(0.0, abs=1e-12)


def test_gradient_positive_for_different_maps_and_region_restricts():
    gt = _smooth_random((20, 18), seed=6)
    pred = _smooth_random((20, 18), seed=7)[::-1].copy()
    total = metrics.gradient_error(pred, gt)
    assert total > 0
    region = np.zeros(gt.shape, dtype=bool)
    region[:10] = True
    part = metrics.gradient_error(pred, gt, region)
    rest = metrics.gradient_error(pred, gt, ~region)
    assert part == pytest.approx(total - rest)


def test_mat2gray_constant_gives_zeros():
    np.testing.assert_array_equal(metrics.mat2gray(np.full((3, 3), 0.7)), np.zeros((3, 3)))
    np.testing.assert_allclose(
        metrics.mat2gray(np.array([[0.2, 0.6], [0.4, 1.0]])), [[0.0, 0.5], [0.25, 1.0]]
    )


# --------------------------------------------------------------------------- connectivity


def _main_square(shape=(20, 20)):
    alpha = np.zeros(shape)
    alpha[2:12, 2:12] = 1.0  # 100-pixel main component
    return alpha


def test_connectivity_disconnected_blob_scores_more_than_attached():
    # gt and pred share a 4-pixel semi-transparent blob (gt 0.5, pred 0.6).
    # Attached: the blob stays in the largest component up to t=0.5, so l=0.5 and both
    # d = alpha - l are < 0.15 -> error 0. Disconnected: l=0, phi = 0.4 vs 0.5 -> 0.1 per px.
    def case(rows, cols):
        gt, pred = _main_square(), _main_square()
        gt[rows, cols] = 0.5
        pred[rows, cols] = 0.6
        return metrics.connectivity_error(pred, gt)

    detached = case(slice(15, 17), slice(15, 17))
    attached = case(slice(12, 14), slice(5, 7))  # row 12 touches the square's last row 11
    assert detached == pytest.approx(4 * 0.1 / 1000)
    assert attached == pytest.approx(0.0)
    assert detached > attached


def test_connectivity_blob_absent_from_gt_costs_its_alpha_either_way():
    # Where gt == 0 the joint threshold map never contains the blob, so l=0 whether or not it
    # touches the main component: error = pred alpha per pixel (DIM behaviour, documented).
    gt = _main_square()
    for rows, cols in ((slice(15, 17), slice(15, 17)), (slice(12, 14), slice(5, 7))):
        pred = gt.copy()
        pred[rows, cols] = 0.8
        assert metrics.connectivity_error(pred, gt) == pytest.approx(4 * 0.8 / 1000)


def test_connectivity_ignores_background_label():
    # 9-pixel foreground, 91-pixel background. gt square = 1.0, pred square = 0.7.
    # Correct: square is omega for t <= 0.7, so l = 0.7; pred_d = 0 -> phi 1;
    # gt_d = 0.3 -> phi 0.7; error 0.3 * 9 = 2.7 -> 0.0027.
    # (Picking the larger background label would give l = 0 and 0.7 * 9 / 1000 = 0.0063.)
    gt = np.zeros((10, 10))
    gt[4:7, 4:7] = 1.0
    pred = gt * 0.7
    assert metrics.connectivity_error(pred, gt) == pytest.approx(0.0027)


def test_largest_component_never_background_and_matlab_tie_break():
    mask = np.zeros((10, 10), dtype=bool)
    mask[0, 0] = True
    mask[5:7, 5:8] = True
    expected = np.zeros_like(mask)
    expected[5:7, 5:8] = True
    np.testing.assert_array_equal(metrics.largest_component(mask), expected)
    assert not metrics.largest_component(np.zeros((4, 4), dtype=bool)).any()
    # Equal sizes: MATLAB picks the first component in column-major order (column 0 here).
    tie = np.zeros((5, 5), dtype=bool)
    tie[0, 3:5] = True  # first in row-major order
    tie[3:5, 0] = True  # first in column-major order
    expected = np.zeros_like(tie)
    expected[3:5, 0] = True
    np.testing.assert_array_equal(metrics.largest_component(tie), expected)
    # Diagonal neighbours are not 4-connected.
    diag = np.eye(3, dtype=bool)
    assert metrics.largest_component(diag).sum() == 1


def _reference_connectivity(pred, gt):
    """Straightforward pure-Python DIM connectivity (BFS, MATLAB column-major tie-break)."""
    h, w = len(pred), len(pred[0])
    steps = [k / 10 for k in range(11)]
    l_map = [[-1.0] * w for _ in range(h)]
    for i in range(1, len(steps)):
        t = steps[i]
        inside = [[pred[r][c] >= t and gt[r][c] >= t for c in range(w)] for r in range(h)]
        seen = [[False] * w for _ in range(h)]
        best = set()
        for c in range(w):  # column-major scan
            for r in range(h):
                if not inside[r][c] or seen[r][c]:
                    continue
                comp, queue = set(), deque([(r, c)])
                seen[r][c] = True
                while queue:
                    y, x = queue.popleft()
                    comp.add((y, x))
                    for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                        if 0 <= ny < h and 0 <= nx < w and inside[ny][nx] and not seen[ny][nx]:
                            seen[ny][nx] = True
                            queue.append((ny, nx))
                if len(comp) > len(best):
                    best = comp
        for r in range(h):
            for c in range(w):
                if l_map[r][c] == -1 and (r, c) not in best:
                    l_map[r][c] = steps[i - 1]
    total = 0.0
    for r in range(h):
        for c in range(w):
            lv = 1.0 if l_map[r][c] == -1 else l_map[r][c]
            pd, gd = pred[r][c] - lv, gt[r][c] - lv
            pphi = 1 - pd * (pd >= 0.15)
            gphi = 1 - gd * (gd >= 0.15)
            total += abs(pphi - gphi)
    return total / 1000


@pytest.mark.parametrize("seed", range(6))
def test_connectivity_matches_reference_implementation(seed):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 21, size=(12, 12)) / 20
    gt[rng.random((12, 12)) < 0.3] = 0.0
    pred = np.clip(gt + rng.integers(-4, 5, size=(12, 12)) / 20, 0.0, 1.0)
    pred[rng.random((12, 12)) < 0.15] = 0.0
    assert metrics.connectivity_error(pred, gt) == pytest.approx(
        _reference_connectivity(pred.tolist(), gt.tolist()), abs=1e-12
    )


def test_connectivity_thresholds_hit_uint8_levels():
    steps = metrics.connectivity_thresholds(0.1)
    assert len(steps) == 11 and steps[0] == 0.0 and steps[-1] == 1.0
    # 153/255 == 0.6 must pass the 0.6 threshold (6 * 0.1 == 0.6000000000000001 would not).
    assert steps[6] <= 153 / 255
    with pytest.raises(ValueError):
        metrics.connectivity_thresholds(0.3)


# --------------------------------------------------------------------------- trimaps


def test_trimap_convention_hard_edge():
    alpha = np.zeros((40, 40))
    alpha[:, :20] = 1.0  # foreground columns 0-19
    trimap = metrics.trimap_from_alpha(alpha, kernel_size=5)  # disk radius 2
    assert trimap.dtype == np.uint8
    assert set(np.unique(trimap)) == {0, 128, 255}
    assert np.all(trimap[:, :18] == 255)  # fg eroded by 2 px; image border does not erode
    assert np.all(trimap[:, 18:22] == 128)
    assert np.all(trimap[:, 22:] == 0)
    np.testing.assert_array_equal(metrics.unknown_region(trimap), trimap == 128)


def test_trimap_kernel_one_marks_only_fractional_pixels():
    alpha = np.array([[0.0, 0.3, 1.0], [0.0, 1.0, 1.0]])
    expected = np.array([[0, 128, 255], [0, 255, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(metrics.trimap_from_alpha(alpha, kernel_size=1), expected)
    assert metrics.trimap_from_alpha((alpha * 255).round().astype(np.uint8), 1)[0, 1] == 128


def test_trimap_default_kernel_and_bad_kernel():
    assert metrics.DEFAULT_TRIMAP_KERNEL == 25
    np.testing.assert_array_equal(metrics.disk_kernel(5)[0], [0, 0, 1, 0, 0])
    for bad in (0, 4, -3, 2.5):
        with pytest.raises(ValueError, match="kernel_size"):
            metrics.trimap_from_alpha(np.zeros((5, 5)), kernel_size=bad)


def test_unknown_region_rejects_unit_scaled_float_trimap():
    with pytest.raises(ValueError, match="trimap"):
        metrics.unknown_region(np.array([[0.0, 0.5], [1.0, 1.0]]))
    squeezed = metrics.unknown_region(np.array([[[128], [0]]], dtype=np.uint8))
    np.testing.assert_array_equal(squeezed, [[True, False]])


# --------------------------------------------------------------------------- to_unit


def test_to_unit_dtypes():
    out = metrics.to_unit(np.array([[0, 51, 255]], dtype=np.uint8))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]])
    np.testing.assert_allclose(metrics.to_unit(np.array([[0, 65535]], dtype=np.uint16)), [[0.0, 1.0]])
    out = metrics.to_unit(np.array([[0.5, 1.0]], dtype=np.float32))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [[0.5, 1.0]])
    assert metrics.to_unit(np.zeros((3, 4, 1), dtype=np.uint8)).shape == (3, 4)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 2), dtype=np.int32), "dtype"),
        (np.zeros((2, 2), dtype=bool), "dtype"),
        (np.array([[0.0, 1.5]]), r"\[0, 1\]"),
        (np.array([[-0.1, 0.5]]), r"\[0, 1\]"),
        (np.array([[np.nan, 0.5]]), "NaN"),
        (np.zeros((2, 2, 3)), "shape"),
        (np.zeros(4), "shape"),
    ],
)
def test_to_unit_errors(array, message):
    with pytest.raises(ValueError, match=message):
        metrics.to_unit(array)


# --------------------------------------------------------------------------- evaluate_alpha


def test_evaluate_alpha_keys_and_consistency():
    gt = _main_square((30, 30))
    gt[12, 2:12] = 0.5
    pred = np.clip(gt + 0.05 * _smooth_random((30, 30), seed=8), 0.0, 1.0)
    trimap = metrics.trimap_from_alpha(gt, kernel_size=7)
    result = metrics.evaluate_alpha(pred, gt, trimap)
    expected_keys = {k for m in metrics.METRIC_NAMES for k in (m, f"{m}_unknown")}
    assert set(result) == expected_keys
    region = metrics.unknown_region(trimap)
    assert result["sad"] == pytest.approx(metrics.sad(pred, gt))
    assert result["mse_unknown"] == pytest.approx(metrics.mse(pred, gt, region))
    assert result["mad_unknown"] == pytest.approx(metrics.mad(pred, gt, region))
    assert result["grad_unknown"] == pytest.approx(metrics.gradient_error(pred, gt, region))
    assert result["conn_unknown"] == pytest.approx(metrics.connectivity_error(pred, gt, region))
    # trimap=None falls back to trimap_from_alpha(gt) with the default kernel
    default = metrics.evaluate_alpha(pred, gt, metrics=["sad"])
    default_region = metrics.unknown_region(metrics.trimap_from_alpha(gt))
    assert set(default) == {"sad", "sad_unknown"}
    assert default["sad_unknown"] == pytest.approx(metrics.sad(pred, gt, default_region))


def test_evaluate_alpha_uint8_matches_float():
    gt8 = (_main_square((16, 16)) * 255).astype(np.uint8)
    pred8 = gt8.copy()
    pred8[3, 3] = 102
    from_uint8 = metrics.evaluate_alpha(pred8, gt8)
    from_float = metrics.evaluate_alpha(pred8 / 255.0, gt8 / 255.0)
    assert from_uint8 == pytest.approx(from_float, nan_ok=True)


def test_size_mismatch_message_contains_both_shapes():
    with pytest.raises(ValueError) as excinfo:
        metrics.evaluate_alpha(np.zeros((4, 5)), np.zeros((4, 6)))
    assert "(4, 5)" in str(excinfo.value) and "(4, 6)" in str(excinfo.value)
    with pytest.raises(ValueError) as excinfo:
        metrics.evaluate_alpha(np.zeros((4, 5)), np.zeros((4, 5)), np.zeros((3, 5), dtype=np.uint8))
    assert "(4, 5)" in str(excinfo.value) and "(3, 5)" in str(excinfo.value)
    with pytest.raises(ValueError, match=r"\(7, 7\)"):
        metrics.sad(np.zeros((7, 7)), np.zeros((7, 8)))


def test_evaluate_alpha_rejects_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.evaluate_alpha(np.zeros((3, 3)), np.zeros((3, 3)), metrics=["sad", "psnr"])


def test_scale_note_mentions_each_metric():
    for word in ("SAD", "MSE", "MAD", "Gradient", "Connectivity", "1000"):
        assert word in metrics.SCALE_NOTE
