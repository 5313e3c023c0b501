"""ONNX export of the base model as a bi-encoder and as a cross-encoder: parity with torch, the pooling read
from the model's own modules, clear errors and nothing half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fine_tuning_assets.core.artifacts import ArtifactError
from fine_tuning_assets.core.base_model import ModelLoadError, load_sentence_transformer, resolve_base_model
from fine_tuning_assets.core.onnx_export import (
    OnnxCrossEncoder,
    OnnxEncoder,
    OnnxExportError,
    OnnxParityError,
    export_onnx,
)

# Texts the export's own probe set does not contain: parity must hold beyond the probes.
TEXTS = [
    "Which airfoil shapes delay boundary-layer separation at high angles of attack?",
    "Wind-tunnel tests of a swept wing at Mach 0.8.",
    "Recipe: bake the bread at 220 °C for 35 minutes.",
    "ok",
    "An approximate theory of heat transfer in laminar flow over a flat plate " * 30,
]
PAIRS = [(TEXTS[0], TEXTS[1]), (TEXTS[0], TEXTS[2]), (TEXTS[3], TEXTS[4]), (TEXTS[1], TEXTS[0])]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def bi_export(tmp_path_factory):
    return export_onnx(resolve_base_model(None), tmp_path_factory.mktemp("onnx") / "minilm")


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory) -> Path:
    from sentence_transformers.cross_encoder import CrossEncoder

    path = tmp_path_factory.mktemp("ce") / "reranker"
    CrossEncoder(resolve_base_model(None), num_labels=1, device="cpu").save(str(path))
    return path


def test_bi_encoder_export_matches_torch(bi_export):
    assert bi_export.passed and bi_export.kind == "bi-encoder"
    assert set(bi_export.differences) == {"cosine", "embedding"}
    assert 0 <= bi_export.max_abs_difference <= 1e-3
    config = json.loads((bi_export.path / "onnx_config.json").read_text())
    assert config["parity"]["max_abs_difference"] == bi_export.differences

    torch_embeddings = load_sentence_transformer(resolve_base_model(None)).encode(
        TEXTS, convert_to_numpy=True
    )
    encoder = OnnxEncoder(bi_export.path)
    for batch_size in (1, 2, 32):  # batching and length-sorting must not change rows or their order
        onnx_embeddings = encoder.encode(TEXTS, batch_size=batch_size)
        assert onnx_embeddings.shape == (len(TEXTS), 384) and onnx_embeddings.dtype == np.float32
        assert np.abs(onnx_embeddings - torch_embeddings).max() <= 1e-3
    assert np.allclose(np.linalg.norm(onnx_embeddings, axis=1), 1.0, atol=1e-5)  # the Normalize module
    assert encoder.encode([]).shape == (0, 384)


def test_cross_encoder_export_matches_torch(cross_encoder_dir, tmp_path):
    from sentence_transformers.cross_encoder import CrossEncoder

    export = export_onnx(cross_encoder_dir, tmp_path / "reranker-onnx", kind="cross-encoder")
    assert export.passed and set(export.differences) == {"score", "logit"}
    assert export.max_abs_difference <= 1e-3

    torch_scores = CrossEncoder(str(cross_encoder_dir), device="cpu").predict(PAIRS, convert_to_numpy=True)
    onnx_scores = OnnxCrossEncoder(export.path).predict(PAIRS, batch_size=3)
    assert onnx_scores.shape == (len(PAIRS),)
    assert np.abs(onnx_scores - torch_scores).max() <= 1e-3
    assert ((onnx_scores > 0) & (onnx_scores < 1)).all()  # the model's Sigmoid was applied
    with pytest.raises(OnnxExportError, match="not a bi-encoder"):
        OnnxEncoder(export.path)


def test_pooling_and_normalization_come_from_the_models_modules(tmp_path):
    """A bi-encoder pooling CLS and max tokens (concatenated) without Normalize: the ONNX side must read that
    from modules.json and the pooling config, or parity fails."""
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    base = load_sentence_transformer(resolve_base_model(None))
    model = SentenceTransformer(modules=[base[0], Pooling(384, pooling_mode=("cls", "max"))], device="cpu")
    model.save(str(tmp_path / "cls-max"))

    export = export_onnx(tmp_path / "cls-max", tmp_path / "cls-max-onnx", probe_texts=TEXTS[:3])
    assert export.max_abs_difference <= 1e-3
    embeddings = OnnxEncoder(export.path).encode(TEXTS[:2])
    assert embeddings.shape == (2, 768)
    assert np.abs(embeddings - model.encode(TEXTS[:2], convert_to_numpy=True)).max() <= 1e-3
    assert not np.allclose(np.linalg.norm(embeddings, axis=1), 1.0)


def test_a_missing_or_broken_model_is_a_clear_error_and_writes_nothing(tmp_path):
    with pytest.raises(ModelLoadError, match="no model folder there"):
        export_onnx(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no modules.json"):
        export_onnx(tmp_path / "empty", tmp_path / "out")

    broken = tmp_path / "broken"
    shutil.copytree(resolve_base_model(None), broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="cannot load the bi-encoder"):
        export_onnx(broken, tmp_path / "out")

    dense = tmp_path / "dense"
    shutil.copytree(resolve_base_model(None), dense)
    modules = json.loads((dense / "modules.json").read_text())
    modules.insert(
        2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (dense / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(
        OnnxExportError, match=r"modules\.json: module 'sentence_transformers\.models\.Dense'"
    ):
        export_onnx(dense, tmp_path / "out")
    with pytest.raises(OnnxExportError, match="a cross-encoder only a Transformer"):
        export_onnx(resolve_base_model(None), tmp_path / "out", kind="cross-encoder")
    assert leftovers(tmp_path) == ["broken", "dense", "empty"]


def test_a_failed_parity_check_raises_and_leaves_no_output(tmp_path):
    with pytest.raises(OnnxParityError, match="differs from the torch model") as caught:
        export_onnx(resolve_base_model(None), tmp_path / "out", tolerance=1e-12, probe_texts=TEXTS[:3])
    assert max(caught.value.differences.values()) > 1e-12
    assert leftovers(tmp_path) == []  # neither the output nor its staging folder


def test_an_export_is_never_overwritten_and_is_checked_when_loaded(bi_export, tmp_path):
    with pytest.raises(ArtifactError, match="already exists"):
        export_onnx(resolve_base_model(None), bi_export.path, probe_texts=TEXTS[:2])
    copy = tmp_path / "copy"
    shutil.copytree(bi_export.path, copy)
    (copy / "1_Pooling" / "config.json").write_text('{"pooling_mode": "cls"}')
    with pytest.raises(OnnxExportError, match="does not match its sha256"):
        OnnxEncoder(copy)
    with pytest.raises(OnnxExportError, match="no ONNX export folder"):
        OnnxEncoder(tmp_path / "nowhere")
