"""Batch norms folded into the convolutions before them, for inference.

At inference a batch norm is an affine map per channel, ``x * scale + offset`` with
``scale = gamma / sqrt(moving_var + eps)`` and ``offset = beta - moving_mean * scale``; after a
convolution it folds into the kernel (``kernel * scale`` along the output channels) and the bias
(``(bias - moving_mean) * scale + beta``). Keras runs each batch norm as six or more ops, two of them
over the whole feature map, and reads four variables: a MobileNetV2 has 52 of them, which cost more
time at batch 1 than its convolutions' arithmetic. Folded, a conv, its bias and its ReLU are one fused
op on the CPU (TensorFlow's remapper), and every export inherits the smaller graph.

The folded model computes the same function as the original's ``training=False`` call, to float
rounding. It is for inference only: it has no batch norms left to train.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

# Convolutions whose output channels are the last axis of their last kernel, with (kernel, bias).
FOLDABLE = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)


def _producer(layer: keras.Layer) -> keras.Layer | None:
    """The layer whose output is ``layer``'s only input, if ``layer`` is called once on one tensor."""
    nodes = layer._inbound_nodes
    if len(nodes) != 1 or len(nodes[0].parent_nodes) != 1:
        return None
    return nodes[0].parent_nodes[0].operation


def _foldable_pairs(model: keras.Model) -> dict[int, layers.BatchNormalization]:
    """id(conv) -> the batch norm it alone feeds, for each foldable pair in ``model`` and the
    functional models inside it."""
    pairs = {}
    outputs = {id(t) for t in model.outputs}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            pairs.update(_foldable_pairs(layer))
            continue
        if not isinstance(layer, layers.BatchNormalization):
            continue
        if layer.axis not in (-1, len(layer.input.shape) - 1):  # channels last only
            continue
        conv = _producer(layer)
        if (
            type(conv) in FOLDABLE  # exactly these: not a subclass with its own call
            and conv.get_config().get("activation") in (None, "linear")
            and conv.data_format == "channels_last"
            and len(conv._inbound_nodes) == 1
            and len(conv._outbound_nodes) == 1
            and id(conv.output) not in outputs
        ):
            pairs[id(conv)] = layer
    return pairs


def _scale_offset(bn: layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    mean = keras.ops.convert_to_numpy(bn.moving_mean).astype(np.float64)
    var = keras.ops.convert_to_numpy(bn.moving_variance).astype(np.float64)
    gamma = keras.ops.convert_to_numpy(bn.gamma).astype(np.float64) if bn.scale else np.ones_like(mean)
    beta = keras.ops.convert_to_numpy(bn.beta).astype(np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + bn.epsilon)
    return scale, beta - mean * scale


def _folded_conv(conv: keras.Layer, bn: layers.BatchNormalization) -> keras.Layer:
    """A copy of ``conv`` with a bias, its weights absorbing ``bn``."""
    scale, offset = _scale_offset(bn)
    weights = [keras.ops.convert_to_numpy(w).astype(np.float64) for w in conv.get_weights()]
    bias = weights.pop() if conv.use_bias else np.zeros_like(scale)
    kernel = weights[-1]  # Conv2D: kernel; SeparableConv2D: pointwise; DepthwiseConv2D: depthwise
    # The output channels: the last axis (Conv2D, pointwise); in, multiplier for a depthwise kernel.
    weights[-1] = kernel * scale.reshape(kernel.shape[2:] if isinstance(conv, layers.DepthwiseConv2D) else -1)
    config = {**conv.get_config(), "use_bias": True, "bias_initializer": "zeros"}
    folded = type(conv).from_config(config)
    folded.build(conv.input.shape)
    folded.set_weights([*weights, bias * scale + offset])
    return folded


def fold_batch_norms(model: keras.Model) -> keras.Model:
    """``model`` with every batch norm that follows a convolution (and is its only consumer) folded
    into it; other layers are shared with ``model``, not copied. Returns ``model`` itself when there
    is nothing to fold (a model that is not functional, or no such pair)."""
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        return model
    pairs = _foldable_pairs(model)
    if not pairs:
        return model
    folded_bns = {id(bn) for bn in pairs.values()}

    def clone(layer):  # a folded copy of a conv, else the layer itself (shared: same weights)
        return _folded_conv(layer, pairs[id(layer)]) if id(layer) in pairs else layer

    def call(layer, *args, **kwargs):  # a folded batch norm passes its input through
        return args[0] if id(layer) in folded_bns else layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=clone, call_function=call, recursive=True)
