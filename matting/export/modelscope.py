"""ModelScope: the frozen ``tf_graph.pb`` that its ``unet-image-matting`` pipeline runs, with the
``configuration.json`` it loads by and a model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from matting.export.folder import exported_file, write_folder
from matting.inference.module import MattingModule
from matting.layout import EXPORT_FILES, MODELSCOPE_CARD_FILE, MODELSCOPE_CONFIG_FILE
from matting.ops import to_uint8_tensor

# ModelScope's loading contract: exactly these keys, and never a "model" key (ModelScope would then
# look for a registered model class and fail).
MODELSCOPE_CONFIGURATION = {
    "framework": "tensorflow",
    "task": "portrait-matting",
    "pipeline": {"type": "unet-image-matting"},
}


def modelscope_graph(module: MattingModule) -> tf.compat.v1.GraphDef:
    """The frozen GraphDef: ``input_image:0`` [H, W, 3] float32 RGB in 0..255 -> ``output_png:0``
    [H, W, 4] uint8 RGBA and ``if_person:0`` (a float32 scalar)."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32, name="input_image")])
    def serve(input_image):
        out = module.matte(input_image[None] / 255.0)
        rgba = tf.concat([to_uint8_tensor(input_image, scale=1.0), to_uint8_tensor(out["alpha"][0])], axis=-1)
        return {
            "output_png": tf.identity(rgba, name="output_png"),
            "if_person": tf.identity(out["if_person"][0], name="if_person"),
        }

    graph_def = convert_variables_to_constants_v2(serve.get_concrete_function()).graph.as_graph_def()
    for node in graph_def.node:
        node.device = ""  # ModelScope places the graph itself (on the CPU)
    return graph_def


def write(module: MattingModule, target: str, *, overwrite=False, metadata=None) -> Path:
    """A folder that ``modelscope.pipelines.pipeline(Tasks.portrait_matting, model=folder)`` loads."""

    def write_model(tmp: Path) -> None:
        (tmp / EXPORT_FILES["modelscope"]).write_bytes(modelscope_graph(module).SerializeToString())
        configuration = {**MODELSCOPE_CONFIGURATION, "matting": metadata or {}}
        (tmp / MODELSCOPE_CONFIG_FILE).write_text(json.dumps(configuration, indent=2))
        (tmp / MODELSCOPE_CARD_FILE).write_text(_model_card(metadata or {}))

    return write_folder(target, write_model, overwrite=overwrite, metadata=metadata)


def load(path: str):
    """The backend of a folder :func:`write` wrote, run the way ModelScope runs it: the frozen graph
    imported with ``name=''`` into a TF1 session, one HxWx3 image in 0..255 at a time. Its alpha is
    8-bit (``output_png``), so it matches the others to 1/255."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(exported_file(path, "modelscope").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)

    def backend(x):
        rgba = [session.run("output_png:0", {"input_image:0": image * 255.0}) for image in x]
        return np.stack(rgba)[..., 3:].astype(np.float32) / 255.0

    return backend


def _model_card(metadata: dict) -> str:
    sizes = f"coarse net at {metadata.get('coarse_size')}, refinement at {metadata.get('fine_size')}"
    metrics = metadata.get("metrics")
    return f"""# Portrait matting (two-stage U-Net), exported for ModelScope

Rebuilt from scratch after `damo/cv_unet_image-matting` (Liu et al., "Boosting Semantic Human
Matting with Coarse Annotations", CVPR 2020): a coarse U-Net predicts a person mask, a refinement
U-Net predicts the alpha matte from the image and that mask ({sizes}).

- Input `input_image:0`: float32 [H, W, 3], RGB in 0..255, any size (best below 2000x2000).
- Output `output_png:0`: uint8 [H, W, 4], the RGB input with the alpha matte as 4th channel;
  `if_person:0`: float32 scalar, the coarse mask's highest probability.
- All resizing happens inside the graph.

Training data: {metadata.get("training_data", "see the training run's config.yaml")}.
Metrics: {json.dumps(metrics) if metrics else "see the repository's evaluate.py report"} (MSE and MAD: mean
over the whole image with alpha in [0, 1]; SAD, Gradient and Connectivity as in the Deep Image
Matting reference code, divided by 1000).

Limits: trained on composites; small persons, several people and images above 2000 px are harder;
edges blur on large inputs because the refinement runs at a fixed resolution.
"""
