"""The local web page on a matting model: drop or paste a photo, get its alpha, the cut-out on a
checkerboard, the photo on a new background and a transparent PNG to download, with the time it took.

    make app                                      # installs .[app], serves the released model
    python app.py                                 # the same, once installed
    python app.py name=my_run                     # a run's checkpoints
    python app.py model_format=onnx model_path=outputs/default/export/onnx   # an export
    python app.py host=0.0.0.0 port=8080

Everything uploaded, and every output, lives in a temporary folder removed when the server stops
(files older than an hour are removed while it runs). Requests are queued, one photo at a time.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile

import hydra
import numpy as np
from omegaconf import DictConfig

from cli_common import checkpoints, run
from matting.export import load_pipeline


def serve(cfg: DictConfig) -> None:
    """Load the model, then serve the page until interrupted."""
    model = (
        f"{cfg.model_format} export {cfg.model_path}"
        if cfg.model_format != "keras"
        else f"{cfg.coarse_checkpoint} + {cfg.fine_checkpoint}"
    )
    pipeline = load_pipeline(cfg.model_format, cfg.model_path, **checkpoints(cfg))
    pipeline.predict(np.zeros((64, 48, 3), np.uint8))  # traced now: the first photo's time is its own
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the server's own requests, every start
    # A kill stops it as Ctrl+C does, even where a background start ignores SIGINT; only the first
    # signal counts, so a second one cannot cut the clean-up short.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _interrupt)
    with tempfile.TemporaryDirectory(prefix="matting-app-") as workdir:
        # Gradio reads these when it is imported (matting.app.build_app does): uploads go to workdir.
        os.environ["GRADIO_TEMP_DIR"] = workdir
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        from matting.app import Matter, build_app

        matter = Matter(pipeline, workdir, max_pixels=cfg.max_pixels)
        app = build_app(matter, source=f"Model: `{model}`")
        try:
            app.launch(
                server_name=cfg.host,
                server_port=cfg.port,
                max_file_size=cfg.max_file_size,
                prevent_thread_lock=True,
                quiet=True,
            )
            print(f"serving {model} at {app.local_url} (Ctrl+C stops)", flush=True)
            print(f"uploads and outputs: {workdir} (removed when the server stops)", flush=True)
            app.block_thread()
        except KeyboardInterrupt:
            pass
        finally:
            app.close()


def _interrupt(signum, frame):
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt


@hydra.main(version_base="1.3", config_path="configs", config_name="app")
def main(cfg: DictConfig) -> None:
    run("app", serve, cfg)


if __name__ == "__main__":
    main()
