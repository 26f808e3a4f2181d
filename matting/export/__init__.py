"""Export the inference graph (:class:`matting.inference.module.MattingModule`) for deployment, and
load it back.

=================  ============================================  =====================================
format             file(s) in the export folder                  input -> output
=================  ============================================  =====================================
``saved_model``    ``saved_model.pb`` + ``variables/``           ``images`` [B, H, W, 3] float32 in
                                                                 [0, 1] -> ``alpha`` [B, H, W, 1];
                                                                 ``matte_uint8``: uint8 images ->
                                                                 ``alpha`` and ``rgba`` (uint8)
``modelscope``     ``tf_graph.pb``, ``configuration.json``,      ``input_image:0`` [H, W, 3] float32
                   ``README.md``                                 RGB in 0..255 -> ``output_png:0``
                                                                 [H, W, 4] uint8 RGBA, ``if_person:0``
``tflite``         ``model.tflite`` (float32 or float16)         [1, H, W, 3] float32 in [0, 1] ->
                                                                 [1, H, W, 1] alpha
``onnx``           ``model.onnx`` (dynamic batch, height, width)  as ``saved_model``
=================  ============================================  =====================================

One module a format, each with its writer ``write(module, target, *, overwrite, metadata, ...)`` and
its loader ``load(folder)`` -> a backend for :class:`matting.inference.pipeline.MattingPipeline`
(``[B, H, W, 3]`` float32 in [0, 1] -> ``[B, H, W, 1]`` alpha). File names come from :mod:`matting.layout`.

Every writer fills a temporary folder beside the target and renames it into place when complete,
with a ``matting.json`` of metadata; an existing target is replaced only with ``overwrite``.
All resizing and normalisation live inside the exported graph.
"""

from __future__ import annotations

from pathlib import Path

from matting.errors import ConfigError
from matting.export import modelscope, onnx, saved_model, tflite
from matting.export.modelscope import MODELSCOPE_CONFIGURATION, modelscope_graph
from matting.inference.module import MattingModule
from matting.inference.pipeline import MattingPipeline

FORMATS = {"saved_model": saved_model, "modelscope": modelscope, "tflite": tflite, "onnx": onnx}

__all__ = ["FORMATS", "MODELSCOPE_CONFIGURATION", "export", "load_pipeline", "modelscope_graph"]


def export(module: MattingModule, target: str, *, format: str = "saved_model", **options) -> Path:
    """Export ``module`` to the folder ``target`` in ``format`` (one of :data:`FORMATS`); ``options``
    are the keywords of that format's ``write``."""
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; known: {sorted(FORMATS)}")
    return FORMATS[format].write(module, target, **options)


def load_pipeline(format: str, path: str | None = None, **checkpoints) -> MattingPipeline:
    """``format`` "keras": the pipeline of the checkpoints (``coarse``, ``fine``, ``coarse_size``,
    ``fine_size`` as keywords); an export format: its folder ``path`` reloaded by that format's
    ``load``."""
    if format == "keras":
        return MattingPipeline.from_checkpoints(**checkpoints)
    if format not in FORMATS:
        raise ConfigError(f"unknown model_format {format!r}; known: keras, {', '.join(FORMATS)}")
    if not path:
        raise ConfigError(f"model_format={format} needs the exported folder (model_path=...)")
    return MattingPipeline(FORMATS[format].load(path))
