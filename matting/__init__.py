"""Portrait matting in TensorFlow: data, nets, training, inference, export and evaluation.

Importing the package imports TensorFlow once, quietly: the notices a machine without a GPU prints
as TensorFlow starts, before its own log settings apply (no CUDA driver, ``cuInit`` failed, oneDNN
and CPU-instruction notes), are dropped; every other line written meanwhile goes through as it
comes. ``MATTING_TF_STARTUP_LOGS=1`` shows them all.
"""

from __future__ import annotations

import os
import re
import sys
import threading

# What TensorFlow prints at start where there is no GPU: notices, not failures. Only these: a GPU
# machine's real CUDA problems (a driver or cuDNN version) are other lines and go through.
STARTUP_NOISE = re.compile(
    r"Could not find cuda drivers on your machine|failed call to cuInit|oneDNN custom operations are on"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions|rebuild TensorFlow with the appropriate compiler flags"
    r"|All log messages before absl::InitializeLog\(\) is called are written to STDERR"
)


def _forward(read_end: int, target: int) -> None:
    """Copy the lines of ``read_end`` to ``target`` as they come, but the start-up notices."""
    with os.fdopen(read_end, "rb") as lines:
        for line in lines:
            if not STARTUP_NOISE.search(line.decode(errors="replace")):
                os.write(target, line)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its GPUs (the CUDA probe) with file descriptor 2 led through
    :func:`_forward`; on any trouble setting that up, a plain import."""
    if "tensorflow" in sys.modules or os.environ.get("MATTING_TF_STARTUP_LOGS") == "1":
        return
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except (OSError, ValueError):  # no stderr to lead (a closed descriptor, an embedded interpreter)
        return
    forwarder = threading.Thread(target=_forward, args=(read_end, saved), daemon=True)
    forwarder.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    finally:
        if sys.stderr is not None:
            sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer closed: the forwarder drains it and stops
        forwarder.join(timeout=5)
        os.close(saved)


_import_tensorflow_quietly()
