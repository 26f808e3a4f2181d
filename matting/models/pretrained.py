"""ImageNet weights of the coarse net's encoder: ``backbone_weights="imagenet"`` the same offline
as online.

``keras.applications.MobileNetV2(weights="imagenet")`` looks for its file in Keras' cache
(``$KERAS_HOME/models/``, default ``~/.keras/models/``) and downloads it only when it is missing.
:func:`seed_cache` copies verified files from a local folder into that cache, so a machine without
internet (or one that should not download) resolves ``imagenet`` exactly as a connected one does
after its first download. :func:`check_imagenet` runs before the net is built: a cached file that
is not the published one, or no file and no way to download it, is an error at start, not a hang
or a traceback from deep inside Keras.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from pathlib import Path

from keras.src.backend.config import keras_home  # where keras.utils.get_file caches; no public call

from matting.errors import ConfigError
from matting.io.files import atomic_path

# keras.applications' MobileNetV2 files without the classifier (``include_top=False``) at the
# default 224 rows that an input of unknown size falls back to: width multiplier -> SHA-256.
IMAGENET_SHA256 = {
    0.35: "df1c3db1d0d9193719c4c70f707c56f7021f999f825bdc57454c275cf6def19f",
    0.5: "279052de2cfa801003aa6cc25cc4d007d35dd0b76f06935268c79788b7642d05",
}
DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # where Keras downloads them from
PROBE_SECONDS = 5.0


def imagenet_file_name(alpha: float) -> str:
    """The name Keras gives the no-top MobileNetV2 file of width ``alpha``."""
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_224_no_top.h5"


def cache_dir() -> Path:
    """Keras' cache of downloaded weights, as ``keras.utils.get_file`` resolves it."""
    home = Path(os.path.expanduser(keras_home()))
    if not os.access(home, os.W_OK):
        home = Path("/tmp/.keras")  # get_file's own fallback for a home it cannot write
    return home / "models"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def seed_cache(folder: str | Path, alphas=tuple(IMAGENET_SHA256)) -> list[Path]:
    """Copy the ImageNet files of widths ``alphas`` (of :data:`IMAGENET_SHA256`) found in
    ``folder`` into Keras' cache (skipping those already there intact); returns the cached paths.
    A file whose SHA-256 is not the published one is refused, naming it: it is never cached."""
    folder, cached = Path(folder), []
    for alpha, expected in IMAGENET_SHA256.items():
        if alpha not in {float(a) for a in alphas}:
            continue
        source = folder / imagenet_file_name(alpha)
        if not source.is_file():
            continue
        if sha256(source) != expected:
            raise ConfigError(
                f"{source}: not the published ImageNet weights of MobileNetV2 (alpha {alpha}): its "
                f"SHA-256 differs from {expected}; replace it with the official file"
            )
        target = cache_dir() / source.name
        if not (target.is_file() and sha256(target) == expected):
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target, ending=".h5") as tmp:  # never a half-copied file in the cache
                shutil.copyfile(source, tmp)
        cached.append(target)
    return cached


def check_imagenet(alpha: float) -> None:
    """Before ``MobileNetV2(alpha=alpha, weights="imagenet")``: its cached file is intact, or it
    can be downloaded; else a :class:`ConfigError` that says what to do."""
    path = cache_dir() / imagenet_file_name(alpha)
    expected = IMAGENET_SHA256.get(float(alpha))
    if path.is_file():
        if expected and sha256(path) != expected:
            raise ConfigError(
                f"{path}: not the published ImageNet weights of MobileNetV2 (alpha {alpha}), a "
                "truncated download perhaps: delete it to download it again"
            )
        return
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return  # the download goes through the proxy: Keras' own error, if any, says the rest
    try:
        socket.create_connection(DOWNLOAD_HOST, timeout=PROBE_SECONDS).close()
    except OSError as error:
        seeded = " (or, for training, set paths.weights_dir to a folder that holds it)" if expected else ""
        raise ConfigError(
            f"model.coarse.backbone_weights=imagenet: {path.name} is not in Keras' cache {path.parent} "
            f"and {DOWNLOAD_HOST[0]} cannot be reached to download it ({error}): copy the file "
            f"there{seeded}"
        ) from None
