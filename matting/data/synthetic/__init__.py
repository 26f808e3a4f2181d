"""Procedural portrait-matting data that needs no download.

The generator draws person-like foregrounds (head, neck, shoulders, torso, optional arms) with a
soft alpha matte: feathered body edges, thin 1 px hair strands leaving the head outline and
semi-transparent parts (a sheer veil, a sheer scarf or a fuzzy band of loose hair). Backgrounds
are photographic-looking mixtures of gradients, blurred shapes, horizons and textures.

:func:`write_synthetic_dataset` writes them to disk in the layout of an Adobe Composition-1k
style alpha-matte dataset, so the dataset builder reads them through the same code path as real
data::

    root/fg/00000.png      foreground RGB, defined everywhere (also where alpha is 0)
    root/alpha/00000.png   8-bit single-channel alpha matte
    root/bg/00000.jpg      background photograph stand-in (JPEG quality 95)
    root/synthetic.json    the generation arguments, written last

Everything is deterministic: each item gets its own generator from :func:`item_rng`, so an item
only depends on ``(seed, kind, index)`` and not on the order in which items are made.

Modules: ``sizes`` (size type and checks), ``draw`` (masks, curves, affine transforms),
``noise``, ``colours``, ``body`` (pose and body outlines), ``hair``, ``sheer`` (veil, scarf),
``person`` (:func:`generate_person`), ``background`` (:func:`generate_background`) and
``writer`` (:func:`write_synthetic_dataset`).
"""

from matting.data.synthetic.background import generate_background
from matting.data.synthetic.person import generate_person
from matting.data.synthetic.writer import FORMAT_VERSION, item_rng, write_synthetic_dataset

__all__ = [
    "FORMAT_VERSION",
    "generate_background",
    "generate_person",
    "item_rng",
    "write_synthetic_dataset",
]
