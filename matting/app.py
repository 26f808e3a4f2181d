"""The local web page (``python app.py``, ``make app``): a photo in, its alpha, the cut-out on a
checkerboard, the photo on a new background and a transparent PNG out, through the same
:class:`~matting.inference.pipeline.MattingPipeline` and :mod:`matting.predict` functions as
``predict.py``; optionally refined from the user's own mask (uploaded, or drawn on the photo).

:class:`Matter` is the page's work without the page (tested directly); :func:`build_app` lays the page
out with Gradio, the optional extra ``.[app]``, imported only there. Uploads are untrusted: a file
that cannot be read, or is too large, gives a message in the page, and the server goes on serving.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matting.data.composite import composite
from matting.errors import DataError
from matting.inference.pipeline import MattingPipeline
from matting.io.codecs import to_uint8
from matting.io.images import read_image, write_png
from matting.predict import background_like, foreground_colours, mask_fits, predict_alpha, read_mask

# The page's own guard, below predict.py's: foreground estimation and the outputs hold several float
# copies of the photo, and one request must not take the memory every queued one shares.
MAX_PIXELS = 25_000_000
MAX_FILE_SIZE = "30mb"  # an upload larger than this is refused by the server before it is stored
CHECKER = 16  # the checkerboard's square, in pixels


@dataclass
class Matted:
    """What the page shows for one photo: uint8 images, the PNG to download and a line of text."""

    alpha: np.ndarray  # [H, W]
    cutout: np.ndarray  # [H, W, 3] on a checkerboard
    on_background: np.ndarray  # [H, W, 3]
    png: Path  # the transparent RGBA PNG
    message: str


def checkerboard(shape: tuple[int, int], square: int = CHECKER) -> np.ndarray:
    """A light-grey checkerboard ``[H, W, 3]`` in [0, 1], the usual backdrop of a transparent image."""
    rows, cols = np.indices(shape) // square
    return np.where(((rows + cols) % 2)[..., None] == 0, 0.8, 0.6) * np.ones(3)


def parse_colour(value) -> tuple[int, int, int]:
    """A colour picker's value (``#rrggbb``, ``#rgb`` or ``rgb(a)(r, g, b[, a])``) as RGB in 0..255."""
    text = str(value or "").strip()
    if re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
    if re.fullmatch(r"#[0-9a-fA-F]{3}", text):
        return tuple(int(c * 2, 16) for c in text[1:])
    found = re.fullmatch(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*[\d.]+\s*)?\)", text)
    if found and all(float(v) <= 255 for v in found.groups()):
        return tuple(round(float(v)) for v in found.groups())
    raise DataError(f"background colour {value!r}: expected #rrggbb or rgb(r, g, b)")


def drawn_mask(editor: dict | None) -> np.ndarray | None:
    """The person mask painted on the photo in the page's editor: every pixel any layer's stroke
    covers, as float32 ``[H, W]`` in {0, 1}; None when nothing was painted."""
    layers = [np.asarray(layer) for layer in (editor or {}).get("layers") or () if layer is not None]
    painted = [layer[..., 3] > 0 for layer in layers if layer.ndim == 3 and layer.shape[2] == 4]
    if not painted or not np.any(painted):
        return None
    return np.any(painted, axis=0).astype(np.float32)


class Matter:
    """The page's work: one photo (a path of the upload) -> :class:`Matted`, its files under
    ``workdir`` (the app's temporary folder). A bad upload raises :class:`DataError` whose message
    names the file as the user named it."""

    def __init__(self, pipeline: MattingPipeline, workdir: str | Path, *, max_pixels: int = MAX_PIXELS):
        self.pipeline = pipeline
        self.workdir = Path(workdir)
        self.max_pixels = max_pixels

    def matte(
        self,
        photo: str | Path | None,
        *,
        mask: str | Path | None = None,
        drawn: np.ndarray | None = None,
        colour="#00b140",
        background: str | Path | None = None,
        name: str | None = None,
    ) -> Matted:
        """Matte ``photo``: from the coarse net, or from ``mask`` (a file) or ``drawn`` (an array),
        refined alone; placed on ``background`` (an image file) or else on ``colour``. ``name`` is
        the file name the user uploaded (the stored upload's name where None)."""
        if photo is None:
            raise DataError("no photo: drop, paste or upload one first")
        photo = Path(photo)
        name = name or photo.name
        with _named(photo, name):
            image = read_image(photo, max_pixels=self.max_pixels)
        given = "your mask" if mask is not None or drawn is not None else None
        if mask is not None:
            with _named(Path(mask), Path(mask).name):
                drawn = read_mask(mask, image.shape, max_pixels=self.max_pixels)
        elif drawn is not None:
            drawn = read_mask_array(drawn, image.shape)
        with _named(Path(background) if background else photo, Path(background or "").name):
            new_bg = background_like(background if background else parse_colour(colour), image.shape[:2])
        start = time.perf_counter()
        alpha = predict_alpha(self.pipeline, image, drawn)
        matting_s = time.perf_counter() - start
        fg = foreground_colours(image, alpha)
        colours_s = time.perf_counter() - start - matting_s
        alpha_u8 = to_uint8(alpha)
        out = self.workdir / uuid.uuid4().hex
        out.mkdir(parents=True)
        png = out / f"{Path(name).stem or 'photo'}_rgba.png"
        write_png(png, np.concatenate([to_uint8(fg), alpha_u8[..., None]], axis=-1))
        height, width = alpha.shape
        how = f"refined from {given}" if given else "coarse net and refinement"
        return Matted(
            alpha=alpha_u8,
            cutout=to_uint8(composite(fg, checkerboard(alpha.shape), alpha)),
            on_background=to_uint8(composite(fg, new_bg, alpha)),
            png=png,
            message=(
                f"{name}: {width}x{height}, matted in {matting_s * 1000:.0f} ms ({how}); "
                f"foreground colours {colours_s * 1000:.0f} ms"
            ),
        )


def failure(error: Exception) -> str:
    """What the page says of an upload it could not matte: a :class:`DataError`'s own message (it
    names the file), else the exception's kind and text."""
    return str(error) if isinstance(error, DataError) else f"matting failed ({type(error).__name__}: {error})"


def read_mask_array(mask: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """A drawn mask checked against its photo as :func:`matting.predict.read_mask` checks a file."""
    if not mask_fits(mask.shape, image_shape):
        (h, w), (height, width) = mask.shape[:2], image_shape[:2]
        raise DataError(
            f"the drawn mask ({w}x{h}) does not fit the {width}x{height} photo: draw on this photo"
        )
    return mask


class _named:
    """Within it, a :class:`DataError` about ``path`` names the file as the user called it (``name``),
    not the server's stored copy."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = str(path), name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if isinstance(error, DataError) and self.name and self.path in str(error):
            raise DataError(str(error).replace(self.path, self.name)) from None
        return False


def build_app(matter: Matter, *, title: str = "Portrait matting", source: str = ""):
    """The page, as a Gradio ``Blocks`` (queued: one photo at a time, the others wait their turn)."""
    import gradio as gr

    def photo_input(**kwargs) -> gr.Image:
        """An image input whose upload reaches :class:`Matter` as the stored file, undecoded: our
        reader gives the message for a file that is not an image, not Gradio's own decoder. (An
        instance's own ``preprocess``: a subclass would make Gradio write a stub file beside this one.)"""
        component = gr.Image(type="filepath", **kwargs)
        component.preprocess = lambda payload: (
            None
            if payload is None
            else {"path": payload.path, "name": Path(payload.orig_name or payload.path).name}
        )
        return component

    def run(photo, mask, editor, colour, background):
        try:
            drawn = drawn_mask(editor) if mask is None else None
            matted = matter.matte(
                photo and photo["path"],
                mask=mask and mask["path"],
                drawn=drawn,
                colour=colour,
                background=background and background["path"],
                name=photo and photo["name"],
            )
        except Exception as error:  # one upload never stops the server
            return (
                None,
                None,
                None,
                gr.update(value=None, visible=False),
                f"**Cannot matte this:** {failure(error)}",
            )
        png = gr.update(value=str(matted.png), visible=True)
        return matted.alpha, matted.cutout, matted.on_background, png, matted.message

    def on_upload(photo, mask, colour, background):
        """A new photo: matted at once, from the coarse net or an uploaded mask (the drawing, made on
        the photo before, is cleared), and set as the drawing canvas's background."""
        try:
            canvas = read_image(photo["path"], max_pixels=matter.max_pixels) if photo else None
        except DataError:
            canvas = None  # run() says why
        editor = {"background": canvas, "layers": [], "composite": None}
        return *run(photo, mask, None, colour, background), editor

    with gr.Blocks(title=title, delete_cache=(600, 3600)) as app:
        gr.Markdown(f"# {title}\n{source}")
        with gr.Row():
            with gr.Column():
                photo = photo_input(
                    label="Photo (drop, paste or click)", sources=["upload", "clipboard"], elem_id="photo"
                )
                # The refinement alone needs the live nets: not offered for an exported model.
                masks_shown = matter.pipeline.module is not None
                with gr.Accordion(
                    "Your own mask (optional): the refinement alone, from it", open=False, visible=masks_shown
                ):
                    with gr.Tab("Upload a mask"):
                        mask = photo_input(
                            label="Mask (white: the person)", sources=["upload"], elem_id="mask"
                        )
                    with gr.Tab("Draw on the photo"):
                        editor = gr.ImageEditor(
                            label="Paint over the person",
                            type="numpy",
                            sources=[],
                            layers=False,
                            brush=gr.Brush(colors=["#ff3366"], color_mode="fixed", default_size=24),
                            elem_id="editor",
                        )
                with gr.Row():
                    colour = gr.ColorPicker(value="#00b140", label="New background colour")
                    background = photo_input(
                        label="or a background photo", sources=["upload"], elem_id="background"
                    )
                button = gr.Button("Matte", variant="primary", elem_id="matte")
                message = gr.Markdown(elem_id="message")
            with gr.Column():
                alpha = gr.Image(label="Alpha", format="png", interactive=False, elem_id="alpha")
                cutout = gr.Image(label="Cut-out", format="png", interactive=False, elem_id="cutout")
                placed = gr.Image(label="On the new background", format="png", interactive=False)
                download = gr.DownloadButton(
                    "Download the transparent PNG", visible=False, elem_id="download"
                )
        inputs = [photo, mask, editor, colour, background]
        outputs = [alpha, cutout, placed, download, message]
        # One queue for both events: one photo matted at a time, whichever started it.
        photo.upload(
            on_upload, [photo, mask, colour, background], [*outputs, editor], concurrency_limit=1,
            concurrency_id="matte",
        )  # fmt: skip
        button.click(run, inputs, outputs, concurrency_limit=1, concurrency_id="matte", api_name="matte")
    return app.queue(default_concurrency_limit=1)
