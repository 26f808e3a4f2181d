"""The one inference path: evaluation, prediction and every export call :class:`MattingPipeline`.

    image [H, W, 3] of any size
      -> resize to ``coarse_size`` (192x160) -> coarse net -> person mask
      -> mask and image resized to ``fine_size`` (768x640) -> refinement net -> alpha
      -> alpha resized back to H x W

``module``: :class:`MattingModule`, the graph (what :mod:`matting.export` serialises).
``pipeline``: :class:`MattingPipeline`, the numpy boundary around the live module or any exported
artifact reloaded through :mod:`matting.export`'s loaders.

The layers import downwards only: ``module`` <- ``pipeline`` <- ``matting.export``.
"""
