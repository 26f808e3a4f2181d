"""Scoring a :class:`matting.inference.pipeline.MattingPipeline` on images with ground-truth alpha.

- :mod:`~matting.evaluation.samples`: what is scored (a built split, or folders of image / alpha /
  trimap files paired by name), as uint8 arrays.
- :mod:`~matting.evaluation.scoring`: per-image metrics of a pipeline (and of its coarse stage
  against person masks), their means, the worst cases.
- :mod:`~matting.evaluation.report`: the Markdown summary, the report files, PNG grids, TensorBoard.
"""
