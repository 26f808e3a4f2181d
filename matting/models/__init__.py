"""The coarse and refinement U-Nets. Importing this package registers the custom layers that
``keras.models.load_model`` needs for the ``.keras`` files."""

from matting.models.unet import build_coarse_unet, build_fine_unet

__all__ = ["build_coarse_unet", "build_fine_unet"]
