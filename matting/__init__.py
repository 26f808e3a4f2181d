"""Portrait matting in TensorFlow: data, nets, training, inference, export and evaluation.

TensorFlow starts quietly wherever it is first imported after this package: the notices a machine
without a GPU prints as it starts, before its own log settings apply (no CUDA driver, ``cuInit``
failed, oneDNN and CPU-instruction notes), are dropped; every other line written meanwhile goes
through as it comes. The import itself stays where it was (settings read as TensorFlow loads, such
as ``TF_ENABLE_ONEDNN_OPTS``, still apply). ``MATTING_TF_STARTUP_LOGS=1`` shows everything.
"""

from __future__ import annotations

import importlib.abc
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


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with file descriptor 2 led through :func:`_forward` while it
    executes and lists its GPUs (the CUDA probe); then the module is left with its own loader."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self.loader
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            saved = os.dup(2)
            read_end, write_end = os.pipe()
        except (OSError, ValueError):  # no stderr to lead (a closed descriptor, an embedded interpreter)
            self.loader.exec_module(module)
            return
        forwarder = threading.Thread(target=_forward, args=(read_end, saved), daemon=True)
        forwarder.start()
        os.dup2(write_end, 2)
        os.close(write_end)
        try:
            self.loader.exec_module(module)
            module.config.list_physical_devices("GPU")
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, 2)  # the pipe's last writer closed: the forwarder drains it and stops
            forwarder.join(timeout=5)
            os.close(saved)


class _QuietStart(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, to be loaded by :class:`_QuietLoader`; once."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None:
                spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


if "tensorflow" not in sys.modules and os.environ.get("MATTING_TF_STARTUP_LOGS") != "1":
    if not any(isinstance(finder, _QuietStart) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietStart())
