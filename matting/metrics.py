"""Alpha-matte error metrics following the Deep Image Matting (DIM) reference MATLAB code.

All functions are pure numpy/scipy/OpenCV (no TensorFlow). Alpha maps are 2-D arrays of shape
``[H, W]`` (``[H, W, 1]`` is accepted and squeezed); they are converted with :func:`to_unit` to
float64 in ``[0, 1]`` (uint8 / 255, uint16 / 65535, floats must already lie in ``[0, 1]``).

Metrics (``region`` is an optional bool mask ``[H, W]`` of scored pixels, default everything):

* SAD  = sum(|pred - gt|) / 1000
* MSE  = sum((pred - gt)^2) / count(region)
* MAD  = sum(|pred - gt|) / count(region)
* Grad = sum((|grad mat2gray(pred)| - |grad mat2gray(gt)|)^2) / 1000, gradients from the DIM
  ``gaussgradient`` (sigma 1.4, L2-normalised derivative-of-Gaussian kernel, replicate border).
* Conn = DIM ``compute_connectivity_error`` with step 0.1, / 1000. The largest 4-connected
  component is taken among foreground labels only (never the background label 0), ties broken
  like MATLAB's ``bwconncomp`` + ``max`` (first component in column-major order).

MSE and MAD of an empty region are NaN. The grad and conn per-pixel maps are computed on the whole
image and only then summed over the region, exactly as in the DIM code.

Trimaps are uint8 ``[H, W]`` with 0 (background), 128 (unknown) and 255 (foreground); see
:func:`trimap_from_alpha` for the convention used when no trimap is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np
from scipy import ndimage

SCALE_NOTE = (
    "SAD: sum of |error| with alpha in [0,1], / 1000; "
    "MSE and MAD: mean over the region, alpha in [0,1], not multiplied by 1e3; "
    "Gradient: sum of squared gradient-magnitude error (sigma 1.4, mat2gray inputs), / 1000; "
    "Connectivity: DIM connectivity error (step 0.1, 4-connectivity), / 1000. "
    "'_unknown' keys are restricted to trimap == 128."
)

METRIC_NAMES = ("sad", "mse", "mad", "grad", "conn")

GRAD_SIGMA = 1.4
CONN_STEP = 0.1
DEFAULT_TRIMAP_KERNEL = 25

TRIMAP_BG = 0
TRIMAP_UNKNOWN = 128
TRIMAP_FG = 255


# --------------------------------------------------------------------------- input handling


def _squeeze_2d(array: np.ndarray, name: str) -> np.ndarray:
    """Return ``array`` as ``[H, W]``, squeezing a trailing singleton channel ``[H, W, 1]``."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape [H, W] or [H, W, 1], got shape {array.shape}")
    return array


def to_unit(alpha: np.ndarray, name: str = "alpha") -> np.ndarray:
    """Convert an alpha map to float64 in ``[0, 1]``.

    Args:
        alpha: ``[H, W]`` or ``[H, W, 1]``; uint8 (divided by 255), uint16 (divided by 65535)
            or a float dtype already in ``[0, 1]``.
        name: used in error messages.

    Returns:
        float64 array ``[H, W]`` in ``[0, 1]`` (a new array).

    Raises:
        ValueError: unsupported dtype, non-finite or out-of-range floats, or bad shape.
    """
    alpha = _squeeze_2d(np.asarray(alpha), name)
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float64) / 255.0
    if alpha.dtype == np.uint16:
        return alpha.astype(np.float64) / 65535.0
    if not np.issubdtype(alpha.dtype, np.floating):
        raise ValueError(
            f"{name} has unsupported dtype {alpha.dtype}; expected uint8, uint16 or float in [0, 1]"
        )
    out = alpha.astype(np.float64)
    if out.size and not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if out.size and (out.min() < 0.0 or out.max() > 1.0):
        raise ValueError(f"{name} float values must lie in [0, 1], got range [{out.min()}, {out.max()}]")
    return out


def _check_same_shape(a: np.ndarray, b: np.ndarray, a_shape, b_shape, a_name, b_name) -> None:
    """Raise ValueError stating both (original) shapes when the 2-D shapes differ."""
    if a.shape != b.shape:
        raise ValueError(
            f"size mismatch: {a_name} has shape {tuple(a_shape)} but {b_name} has shape {tuple(b_shape)}"
        )


def _prepare(pred, gt, region=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate inputs; return float64 ``pred``, ``gt`` ``[H, W]`` and bool ``region`` or None."""
    pred_shape, gt_shape = np.shape(pred), np.shape(gt)
    pred_u, gt_u = to_unit(pred, "pred"), to_unit(gt, "gt")
    _check_same_shape(pred_u, gt_u, pred_shape, gt_shape, "pred", "gt")
    if region is None:
        return pred_u, gt_u, None
    region_arr = _squeeze_2d(np.asarray(region), "region")
    if region_arr.dtype != np.bool_:
        raise ValueError(f"region must be a bool mask, got dtype {region_arr.dtype}")
    _check_same_shape(gt_u, region_arr, gt_shape, np.shape(region), "gt", "region")
    return pred_u, gt_u, region_arr


def _region_sum(values: np.ndarray, region: np.ndarray | None) -> float:
    """Sum of ``values`` ``[H, W]`` over ``region`` (everything when None)."""
    return float(values.sum() if region is None else values[region].sum())


def _region_mean(values: np.ndarray, region: np.ndarray | None) -> float:
    """Mean of ``values`` over ``region``; NaN for an empty region."""
    count = values.size if region is None else int(region.sum())
    if count == 0:
        return float("nan")
    return _region_sum(values, region) / count


# --------------------------------------------------------------------------- simple metrics


def sad(pred, gt, region=None) -> float:
    """Sum of absolute differences over ``region``, divided by 1000 (alpha in [0, 1])."""
    pred, gt, region = _prepare(pred, gt, region)
    return _region_sum(np.abs(pred - gt), region) / 1000.0


def mse(pred, gt, region=None) -> float:
    """Mean squared error over ``region`` (alpha in [0, 1]); NaN if the region is empty."""
    pred, gt, region = _prepare(pred, gt, region)
    return _region_mean((pred - gt) ** 2, region)


def mad(pred, gt, region=None) -> float:
    """Mean absolute difference over ``region`` (alpha in [0, 1]); NaN if the region is empty."""
    pred, gt, region = _prepare(pred, gt, region)
    return _region_mean(np.abs(pred - gt), region)


# --------------------------------------------------------------------------- gradient error


def gaussian_kernel_halfsize(sigma: float, epsilon: float = 1e-2) -> int:
    """DIM ``gaussgradient`` half-size: ``ceil(sigma * sqrt(-2 ln(sqrt(2 pi) sigma eps)))``."""
    return math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))


def _dgauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return -x * _gauss(x, sigma) / sigma**2


def _separable_gradient_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """1-D factors ``(g, dg)`` with ``hx = outer(g, dg)``; ``hx`` has unit L2 norm."""
    half = gaussian_kernel_halfsize(sigma)
    u = np.arange(-half, half + 1, dtype=np.float64)
    g, dg = _gauss(u, sigma), _dgauss(u, sigma)
    # ||outer(g, dg)||_F = ||g|| * ||dg||, so normalising each factor normalises hx.
    return g / np.linalg.norm(g), dg / np.linalg.norm(dg)


def gaussian_gradient_kernels(sigma: float = GRAD_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """DIM ``gaussgradient`` kernels ``(hx, hy)``, each ``[2h+1, 2h+1]``.

    ``hx[i, j] = gauss(i - h) * dgauss(j - h)`` (derivative along columns, i.e. x), divided by
    its L2 norm; ``hy = hx.T``.
    """
    g, dg = _separable_gradient_kernels(sigma)
    hx = np.outer(g, dg)
    return hx, hx.T.copy()


def gaussian_gradient(image: np.ndarray, sigma: float = GRAD_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """``(gx, gy)`` of a float ``[H, W]`` image, like ``imfilter(IM, hx, 'replicate', 'conv')``.

    Implemented separably (true convolution, replicate border = scipy mode 'nearest').
    """
    g, dg = _separable_gradient_kernels(sigma)
    gx = ndimage.convolve1d(ndimage.convolve1d(image, g, axis=0, mode="nearest"), dg, axis=1, mode="nearest")
    gy = ndimage.convolve1d(ndimage.convolve1d(image, dg, axis=0, mode="nearest"), g, axis=1, mode="nearest")
    return gx, gy


def mat2gray(image: np.ndarray) -> np.ndarray:
    """MATLAB ``mat2gray``: ``(x - min) / (max - min)``; a constant map gives zeros. ``[H, W]``."""
    lo, hi = float(image.min()), float(image.max())
    if hi == lo:
        return np.zeros_like(image, dtype=np.float64)
    return (image - lo) / (hi - lo)


def _gradient_magnitude(image: np.ndarray, sigma: float) -> np.ndarray:
    gx, gy = gaussian_gradient(mat2gray(image), sigma)
    return np.sqrt(gx**2 + gy**2)


def gradient_error_map(pred: np.ndarray, gt: np.ndarray, sigma: float = GRAD_SIGMA) -> np.ndarray:
    """Per-pixel ``(|grad pred| - |grad gt|)^2`` ``[H, W]`` on min-max normalised float maps."""
    return (_gradient_magnitude(pred, sigma) - _gradient_magnitude(gt, sigma)) ** 2


def gradient_error(pred, gt, region=None, sigma: float = GRAD_SIGMA) -> float:
    """DIM gradient error summed over ``region``, divided by 1000."""
    pred, gt, region = _prepare(pred, gt, region)
    return _region_sum(gradient_error_map(pred, gt, sigma), region) / 1000.0


# --------------------------------------------------------------------------- connectivity error


def connectivity_thresholds(step: float = CONN_STEP) -> np.ndarray:
    """Thresholds ``0, step, ..., 1`` computed as ``k / n`` (nearest doubles to 0.1, 0.2, ...).

    ``k / n`` avoids ``arange`` drift (``6 * 0.1 = 0.6000000000000001`` would wrongly exclude
    ``153 / 255 == 0.6``); it agrees with MATLAB's ``0:0.1:1`` at 0.2, 0.4, 0.6, 0.8 and 1.
    """
    n = round(1.0 / step)
    if n < 1 or not math.isclose(n * step, 1.0):
        raise ValueError(f"step must divide 1 evenly, got {step}")
    return np.arange(n + 1, dtype=np.float64) / n


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Largest 4-connected foreground component of a bool ``[H, W]`` mask, as bool ``[H, W]``.

    The background (label 0) is never chosen; an empty mask gives all False. Ties go to the
    component whose first pixel comes first in column-major order, like MATLAB's ``bwconncomp``
    followed by ``max`` (labelling the transpose makes scipy number components in that order).
    """
    labels_t, count = ndimage.label(mask.T)  # default 2-D structure = 4-connectivity
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels_t.ravel(), minlength=count + 1)
    best = int(np.argmax(sizes[1:])) + 1  # skip background label 0
    return (labels_t == best).T


def connectivity_level_map(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """DIM ``l_map`` ``[H, W]``: last threshold at which a pixel was in the largest component."""
    thresholds = connectivity_thresholds(step)
    l_map = np.ones(pred.shape, dtype=np.float64)  # pixels never dropped end at level 1
    assigned = np.zeros(pred.shape, dtype=bool)  # plays the role of l_map ~= -1
    for i in range(1, len(thresholds)):
        omega = largest_component((pred >= thresholds[i]) & (gt >= thresholds[i]))
        flag = ~assigned & ~omega
        l_map[flag] = thresholds[i - 1]
        assigned |= flag
    return l_map


def connectivity_error_map(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> np.ndarray:
    """Per-pixel ``|pred_phi - gt_phi|`` ``[H, W]`` of the DIM connectivity error (float maps)."""
    l_map = connectivity_level_map(pred, gt, step)
    pred_d, gt_d = pred - l_map, gt - l_map
    pred_phi = 1.0 - pred_d * (pred_d >= 0.15)
    gt_phi = 1.0 - gt_d * (gt_d >= 0.15)
    return np.abs(pred_phi - gt_phi)


def connectivity_error(pred, gt, region=None, step: float = CONN_STEP) -> float:
    """DIM connectivity error summed over ``region``, divided by 1000."""
    pred, gt, region = _prepare(pred, gt, region)
    return _region_sum(connectivity_error_map(pred, gt, step), region) / 1000.0


# --------------------------------------------------------------------------- trimaps


def disk_kernel(kernel_size: int) -> np.ndarray:
    """uint8 ``[k, k]`` disk: 1 where ``x^2 + y^2 <= r^2``, ``r = (k - 1) / 2``, centred."""
    if not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    r = (kernel_size - 1) // 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return (x**2 + y**2 <= r**2).astype(np.uint8)


def _erode(mask: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Binary erosion of bool ``[H, W]``; pixels outside the image count as inside the set."""
    eroded = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return eroded.astype(bool)


def trimap_from_alpha(alpha, kernel_size: int = DEFAULT_TRIMAP_KERNEL) -> np.ndarray:
    """Evaluation trimap from a ground-truth alpha, uint8 ``[H, W]`` with values 0 / 128 / 255.

    Convention: foreground (255) = ``alpha == 1`` eroded by a disk of diameter ``kernel_size``;
    background (0) = ``alpha == 0`` eroded by the same disk; everything else is unknown (128).
    So the unknown band covers every fractional pixel plus ``(kernel_size - 1) / 2`` px on each
    side of it (a hard 0/1 edge gets a band of about ``kernel_size - 1`` px). The image border
    does not erode. ``kernel_size=1`` marks only the fractional pixels as unknown. The default
    25 gives a 12 px margin each side, a moderate band for ~768x640 portraits.

    Args:
        alpha: ``[H, W]`` (or ``[H, W, 1]``) uint8 / uint16 / float in [0, 1].
        kernel_size: positive odd disk diameter in pixels.
    """
    unit = to_unit(alpha, "alpha")
    kernel = disk_kernel(kernel_size)
    trimap = np.full(unit.shape, TRIMAP_UNKNOWN, dtype=np.uint8)
    trimap[_erode(unit >= 1.0, kernel)] = TRIMAP_FG
    trimap[_erode(unit <= 0.0, kernel)] = TRIMAP_BG
    return trimap


def trimap_from_mask(mask, band: int = 10) -> np.ndarray:
    """A trimap around a person mask's edge, uint8 ``[H, W]`` 0 / 128 / 255 as
    :func:`trimap_from_alpha`'s: unknown (128) within ``band`` px (a square's reach) either side of
    the edge of ``mask >= 0.5``, foreground (255) inside, background (0) outside. For a mask, where
    :func:`trimap_from_alpha` is for a true alpha: the unknown band closed-form matting gets around
    a given mask, and the band the peers benchmark scores.

    Args:
        mask: ``[H, W]`` bool, uint8 in 0..255 or float in [0, 1] (soft: thresholded at half).
        band: pixels each side of the edge.
    """
    binary = (np.asarray(mask) >= (128 if np.asarray(mask).dtype == np.uint8 else 0.5)).astype(np.uint8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    trimap = np.full(binary.shape, TRIMAP_UNKNOWN, dtype=np.uint8)
    trimap[cv2.erode(binary, kernel) == 1] = TRIMAP_FG
    trimap[cv2.dilate(binary, kernel) == 0] = TRIMAP_BG
    return trimap


def unknown_region(trimap) -> np.ndarray:
    """Bool ``[H, W]``: ``trimap == 128`` for a 0 / 128 / 255 trimap ``[H, W]`` or ``[H, W, 1]``.

    Raises ValueError for a float trimap that looks [0, 1]-scaled (all values <= 1 with some
    strictly between 0 and 1), which would otherwise silently give an empty region.
    """
    trimap = _squeeze_2d(np.asarray(trimap), "trimap")
    is_float = np.issubdtype(trimap.dtype, np.floating)
    if is_float and trimap.size and trimap.max() <= 1.0 and np.any((trimap > 0) & (trimap < 1)):
        raise ValueError("trimap looks [0, 1]-scaled; expected values 0 / 128 / 255")
    return trimap == TRIMAP_UNKNOWN


# --------------------------------------------------------------------------- evaluation


def _error_map(name: str, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pixel error map ``[H, W]`` whose region sum (or mean) gives metric ``name``."""
    if name in ("sad", "mad"):
        return np.abs(pred - gt)
    if name == "mse":
        return (pred - gt) ** 2
    if name == "grad":
        return gradient_error_map(pred, gt)
    return connectivity_error_map(pred, gt)


def _reduce(name: str, error_map: np.ndarray, region: np.ndarray | None) -> float:
    if name in ("mse", "mad"):
        return _region_mean(error_map, region)
    return _region_sum(error_map, region) / 1000.0


def evaluate_alpha(pred, gt, trimap=None, *, metrics: Iterable[str] = METRIC_NAMES) -> dict[str, float]:
    """Compute matting metrics on the whole image and on the trimap's unknown region.

    Args:
        pred, gt: alpha maps ``[H, W]`` (or ``[H, W, 1]``), uint8 / uint16 / float in [0, 1].
        trimap: 0 / 128 / 255 ``[H, W]``; when None, ``trimap_from_alpha(gt)`` is used.
        metrics: subset of ``METRIC_NAMES``.

    Returns:
        ``{name: whole-image value, name + "_unknown": value over trimap == 128}`` per metric.

    Raises:
        ValueError: unknown metric name, or shape mismatch (message states both shapes).
    """
    metrics = tuple(metrics)
    bad = [m for m in metrics if m not in METRIC_NAMES]
    if bad:
        raise ValueError(f"unknown metric(s) {bad}; choose from {METRIC_NAMES}")
    pred_u, gt_u, _ = _prepare(pred, gt)
    if trimap is None:
        region = unknown_region(trimap_from_alpha(gt_u))
    else:
        region = unknown_region(trimap)
        _check_same_shape(gt_u, region, np.shape(gt), np.shape(trimap), "gt", "trimap")
    results: dict[str, float] = {}
    for name in metrics:
        error_map = _error_map(name, pred_u, gt_u)
        results[name] = _reduce(name, error_map, None)
        results[f"{name}_unknown"] = _reduce(name, error_map, region)
    return results
