"""Portrait matting in TensorFlow: data, nets, training, inference, export and evaluation.

Importing the package imports TensorFlow once, quietly: the start-up lines a CPU machine prints
before TensorFlow's own log settings apply (CUDA drivers not found, ``cuInit`` failed, oneDNN and
CPU-instruction notices) are dropped, and anything else written meanwhile goes through. Set
``MATTING_TF_STARTUP_LOGS=1`` to see them all.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# What TensorFlow prints at start on a machine without a GPU: notices, not failures.
STARTUP_NOISE = re.compile(
    r"cudart_stub\.cc|cuda_platform\.cc|cuda_executor\.cc|failed call to cuInit|cuda_(dnn|fft|blas)\.cc"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation_placer\.cc|oneDNN custom operations"
    r"|cpu_feature_guard\.cc|To enable the following instructions|absl::InitializeLog\(\) is called"
    r"|TF-TRT Warning|rebuild TensorFlow with the appropriate compiler flags"
)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its GPUs (the CUDA probe) with file descriptor 2 captured, then
    write back every captured line that is not :data:`STARTUP_NOISE`."""
    if "tensorflow" in sys.modules or os.environ.get("MATTING_TF_STARTUP_LOGS") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # TensorFlow's own INFO lines after start-up
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr to capture (an embedded interpreter)
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not STARTUP_NOISE.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


_import_tensorflow_quietly()
