"""Every export format reloads and gives the in-process pipeline's alpha, on odd sizes and on an
image above 2000 px."""

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import compose_config

from matting.errors import CheckpointError, ConfigError
from matting.export import MODELSCOPE_CONFIGURATION, export, load_pipeline, modelscope_graph
from matting.inference.pipeline import MattingPipeline
from matting.layout import EXPORT_FILES, METADATA_FILE, MODELSCOPE_CARD_FILE, MODELSCOPE_CONFIG_FILE

SHAPES = [(96, 80, 3), (77, 131, 3), (9, 7, 3), (2050, 1537, 3)]

# Largest |alpha - in-process alpha| accepted, per format, with alpha in [0, 1]:
TOLERANCE = {
    "saved_model": 1e-4,  # the same graph and weights
    "onnx": 1e-3,  # another runtime, float32 throughout
    "tflite": 1e-3,  # another runtime, float32 throughout
    # float16 weights keep ~3 significant digits; through two U-Nets the alpha moves by up to a
    # few 1e-3 on these tiny nets.
    "tflite_float16": 2e-2,
    # output_png holds 8-bit alpha: rounding costs up to half a level, plus float noise.
    "modelscope": 0.5 / 255 + 1e-3,
}


@pytest.fixture(scope="module")
def live(trained):
    overrides, _ = trained
    cfg = compose_config("export", overrides)
    pipeline = MattingPipeline.from_checkpoints(
        cfg.coarse_checkpoint, cfg.fine_checkpoint, coarse_size=(32, 32), fine_size=(64, 64)
    )
    return pipeline, cfg


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, np.uint8) for shape in SHAPES]


@pytest.mark.parametrize(
    ("format", "options", "label"),
    [
        ("saved_model", {}, "saved_model"),
        ("modelscope", {}, "modelscope"),
        ("tflite", {"quantization": "float32"}, "tflite"),
        ("tflite", {"quantization": "float16"}, "tflite_float16"),
        ("onnx", {}, "onnx"),
    ],
)
def test_export_matches_the_in_process_pipeline(live, images, tmp_path, format, options, label):
    pipeline, _ = live
    path = export(pipeline.module, str(tmp_path / label), format=format, metadata={"t": 1}, **options)
    exported = load_pipeline(format, str(path))
    for image in images:
        expected, got = pipeline.predict(image), exported.predict(image)
        assert got.shape == image.shape[:2]
        assert np.abs(got - expected).max() <= TOLERANCE[label], (label, image.shape)
    assert json.loads((path / METADATA_FILE).read_text())["t"] == 1
    assert not list(tmp_path.glob(f".{label}.*"))  # no temporary folder left behind


@pytest.mark.parametrize("format", ["modelscope", "tflite", "onnx"])
def test_guided_upsampling_exports_too(live, images, tmp_path, format):
    pipeline, cfg = live
    guided = MattingPipeline.from_checkpoints(
        cfg.coarse_checkpoint,
        cfg.fine_checkpoint,
        coarse_size=(32, 32),
        fine_size=(64, 64),
        upsample="guided",
    )
    exported = load_pipeline(format, str(export(guided.module, str(tmp_path / format), format=format)))
    image = images[-1]  # the 2050 x 1537 one: upsampled 32x
    expected = guided.predict(image)
    assert np.abs(expected - pipeline.predict(image)).max() > 1e-3  # guided is not bilinear
    assert np.abs(exported.predict(image) - expected).max() <= TOLERANCE[format]


def test_modelscope_folder_follows_the_loading_contract(live, tmp_path):
    pipeline, _ = live
    path = export(pipeline.module, str(tmp_path / "ms"), format="modelscope")
    configuration = json.loads((path / MODELSCOPE_CONFIG_FILE).read_text())
    assert {k: configuration[k] for k in MODELSCOPE_CONFIGURATION} == MODELSCOPE_CONFIGURATION
    assert "model" not in configuration
    assert (path / MODELSCOPE_CARD_FILE).read_text().startswith("# Portrait matting")

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((path / EXPORT_FILES["modelscope"]).read_bytes())
    assert all(node.device == "" for node in graph_def.node)
    assert not any(node.op in ("VarHandleOp", "ReadVariableOp") for node in graph_def.node)  # frozen
    placeholder = next(n for n in graph_def.node if n.name == "input_image")
    assert placeholder.op == "Placeholder"
    assert [d.size for d in placeholder.attr["shape"].shape.dim] == [-1, -1, 3]  # no batch dim

    # As ModelScope runs it: import with name='', feed float64 HxWx3 in 0..255, read output_png:0.
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    image = np.random.default_rng(1).integers(0, 256, (50, 70, 3)).astype(np.float64)
    with tf.compat.v1.Session(graph=graph) as session:
        rgba, score = session.run(["output_png:0", "if_person:0"], {"input_image:0": image})
    assert rgba.dtype == np.uint8 and rgba.shape == (50, 70, 4)
    np.testing.assert_array_equal(rgba[..., :3], image.astype(np.uint8))
    assert np.ndim(score) == 0 and 0.0 <= score <= 1.0
    expected = np.rint(pipeline.predict(image.astype(np.uint8)) * 255)
    assert np.abs(rgba[..., 3].astype(float) - expected).max() <= 1


def test_saved_model_uint8_signature(live, tmp_path):
    pipeline, _ = live
    path = export(pipeline.module, str(tmp_path / "sm"), format="saved_model")
    signature = tf.saved_model.load(str(path)).signatures["matte_uint8"]
    image = np.random.default_rng(2).integers(0, 256, (1, 33, 47, 3), np.uint8)
    out = signature(images=tf.constant(image))
    assert out["rgba"].dtype == tf.uint8 and out["rgba"].shape == (1, 33, 47, 4)
    np.testing.assert_array_equal(out["rgba"].numpy()[0, ..., :3], image[0])
    assert np.abs(out["alpha"].numpy()[0, ..., 0] - pipeline.predict(image[0])).max() < 1e-4


def test_modelscope_graph_has_the_named_nodes(live):
    names = {node.name for node in modelscope_graph(live[0].module).node}
    assert {"input_image", "output_png", "if_person"} <= names


def test_bad_export_requests(live, tmp_path):
    pipeline, _ = live
    with pytest.raises(ConfigError, match="unknown export format 'caffe'"):
        export(pipeline.module, str(tmp_path / "x"), format="caffe")
    with pytest.raises(ConfigError, match="quantization"):
        export(pipeline.module, str(tmp_path / "x"), format="tflite", quantization="int4")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="overwrite=true"):
        export(pipeline.module, str(tmp_path / "taken"), format="onnx")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "keep me"
    with pytest.raises(CheckpointError, match=f"no {EXPORT_FILES['onnx']}"):
        load_pipeline("onnx", str(tmp_path / "taken"))
    with pytest.raises(ConfigError, match="model_path"):
        load_pipeline("tflite")


def test_export_script_passes_the_format_options(trained, tmp_path):
    from export import export as export_script

    overrides, _ = trained
    cfg = compose_config(
        "export",
        overrides + ["format=tflite", "options.tflite.quantization=float16", f"out_dir={tmp_path}/t"],
    )
    path = export_script(cfg)
    metadata = json.loads((tmp_path / "t" / METADATA_FILE).read_text())
    assert path.endswith("/t") and metadata["quantization"] == "float16"
    assert metadata["upsample"] == "bilinear" and metadata["fine_size"] == [64, 64]
