"""Loading a ``.keras`` checkpoint without running code from it: the one place the library does.

A ``.keras`` file is a zip of a JSON config and HDF5 weights. Keras's safe mode refuses what in it
could run code when deserialized (a ``Lambda`` layer's Python function, a lambda anywhere in the
config); here it is forced on even if ``keras.config.enable_unsafe_deserialization()`` was called,
and only ``.keras`` zip files are accepted (no legacy ``.h5`` models, whose loader can hold
marshalled Python code, and no folders). Nothing is unpickled.

The exported formats do not unpickle either: a SavedModel folder (``tf.saved_model.load``) and the
frozen graph (``GraphDef.ParseFromString``) are protocol buffers of TensorFlow ops, TFLite a
flatbuffer, ONNX a protobuf run by ONNX Runtime; ``matting.json`` and ``configuration.json`` are
read as JSON only.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
from keras.src.saving.serialization_lib import SafeModeScope  # no public call turns safe mode back on

from matting.errors import CheckpointError


def load_checkpoint(path: str | Path, *, missing: str = "") -> keras.Model:
    """The model of the ``.keras`` file ``path``, uncompiled, in safe mode; a missing file (with
    ``missing``: what to do about it), another format, or a checkpoint Keras refuses (one holding
    code, a corrupt one) is a :class:`CheckpointError` naming the file. (Importing
    :mod:`matting.models`, the package of this module, registers the custom layers the checkpoints
    use.)"""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint" + (f" ({missing})" if missing else ""))
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a .keras checkpoint (a zip written by model.save('x.keras'))")
    try:
        with SafeModeScope(True):
            return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, KeyError, OSError ... by case
        if "safe_mode" in str(error):  # Keras's refusal (its advice, to turn safe mode off, left out)
            raise CheckpointError(
                f"{path}: refused: it holds Python code (a Lambda layer or a lambda) that loading would "
                "run; only checkpoints made of this project's layers are loaded"
            ) from error
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(
            f"{path}: not a loadable checkpoint ({type(error).__name__}: {message})"
        ) from error
