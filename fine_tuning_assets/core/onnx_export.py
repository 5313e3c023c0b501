"""ONNX export of a sentence-transformers bi-encoder (embedding) or cross-encoder (reranker) for inference,
checked against the torch model before it is written.

Why not the library's ``export_optimized_onnx_model`` / ``backend="onnx"``: both need Hugging Face
``optimum``, whose current release pins ``transformers<4.58`` and so cannot be installed beside
sentence-transformers 6 (transformers 5). The export here is ``torch.onnx.export`` (the TorchScript
exporter, opset 17) of the model's transformer with eager attention, run by ``onnxruntime``. As in the
library's own ONNX backend, the graph holds only the transformer; what follows it (pooling, normalization,
the cross-encoder's activation) runs in numpy as the model folder's ``modules.json`` and module configs say,
so the inference side does not import torch.

An export folder holds ``model.onnx``, the tokenizer, the model's ``modules.json`` and module configs,
``onnx_config.json`` (inputs, output, maximum length, activation, the parity numbers) and the artifact
``manifest.json`` (every file's sha256). It is written to a staging folder beside ``output_dir`` and renamed
into place only after the parity check passed: on any error nothing is left at ``output_dir``.

Example (doctest skipped: it exports a model):
    >>> from fine_tuning_assets.core.base_model import resolve_base_model
    >>> export = export_onnx(resolve_base_model(None), "/tmp/minilm-onnx")  # doctest: +SKIP
    >>> OnnxEncoder(export.path).encode(["a query", "a document"]).shape  # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fine_tuning_assets.core.artifacts import ArtifactStore, verify
from fine_tuning_assets.core.base_model import ModelLoadError, quiet_transformers

Kind = Literal["bi-encoder", "cross-encoder"]
KINDS: tuple[str, ...] = ("bi-encoder", "cross-encoder")
ONNX_FILE = "model.onnx"
ONNX_CONFIG = "onnx_config.json"
MODULES_FILE = "modules.json"
#: The opset of ``torch.onnx.export``; 17 has LayerNormalization as one operator.
OPSET = 17
#: Largest allowed absolute difference between torch and ONNX outputs (cosines, embeddings, scores).
DEFAULT_TOLERANCE = 1e-3
#: Module configs copied beside the ONNX graph: the inference side reads them as the torch model does.
MODEL_CONFIG_FILES = (
    MODULES_FILE,
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
)
#: Fixed probe texts for the parity check: short and long (past any maximum length, so truncation is
#: compared too), cased, accented and non-Latin, so that padding, truncation and tokenization all matter.
PROBE_TEXTS: tuple[str, ...] = (
    "How do I reset my password?",
    "To reset your password, open Settings, choose Account and follow the link we e-mail you.",
    "Quarterly revenue rose 12% on strong demand in Europe.",
    "Le café de la gare ouvre à 6 h 30 du lundi au samedi.",
    "東京の天気は明日晴れるでしょう。",
    "x",
    "THE BOUNDARY LAYER SEPARATES NEAR THE TRAILING EDGE OF THE WING",
    " ".join(
        f"Paragraph {i}: the committee reviewed the proposal, asked for revised cost estimates and "
        "postponed the vote until the next meeting of the board."
        for i in range(40)
    ),
)
#: Pooling modes the numpy pooling reproduces (sentence-transformers' ``Pooling`` module has two more,
#: ``weightedmean`` and ``lasttoken``; a model using them is refused rather than pooled differently).
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens")
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
#: Cross-encoder activations the numpy side applies, by the torch module's class name.
ACTIVATIONS = ("Sigmoid", "Identity")


class OnnxExportError(RuntimeError):
    """A model cannot be exported to ONNX, or an exported folder cannot be used."""


class OnnxParityError(OnnxExportError):
    """The ONNX model's outputs differ from the torch model's by more than the tolerance."""

    def __init__(self, message: str, *, differences: dict[str, float], tolerance: float) -> None:
        super().__init__(message)
        self.differences, self.tolerance = differences, tolerance


@dataclass(frozen=True)
class OnnxExport:
    """A written export. ``differences``: the largest absolute torch-vs-ONNX difference per compared output
    (bi-encoder: ``cosine`` between probe texts and ``embedding`` components; cross-encoder: ``score``
    after the model's activation and ``logit`` before it); ``passed`` is True, since a failing check raises
    :class:`OnnxParityError` and writes nothing."""

    path: Path
    kind: str
    max_abs_difference: float
    passed: bool
    tolerance: float
    seconds: float
    differences: dict[str, float] = field(default_factory=dict)


# -- the pipeline after the transformer, as modules.json says ----------------------------------------------
@dataclass(frozen=True)
class _Pipeline:
    pooling_modes: tuple[str, ...]
    normalize: bool


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OnnxExportError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OnnxExportError(f"{path} cannot be read as JSON: {error}") from error


def _pooling_modes(config_path: Path) -> tuple[str, ...]:
    """The pooling modes of a ``Pooling`` config, in either sentence-transformers format: ``pooling_mode``
    (v6: one name or a list, concatenated in order) or the older ``pooling_mode_*_tokens`` flags (mean when
    none is set, as the library reads them)."""
    config = _read_json(config_path)
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    else:
        modes = tuple(name for key, name in _LEGACY_POOLING_KEYS.items() if config.get(key)) or ("mean",)
    unsupported = [mode for mode in modes if mode not in POOLING_MODES]
    if unsupported:
        raise OnnxExportError(
            f"{config_path}: pooling mode {', '.join(unsupported)} is not supported by the ONNX export "
            f"(supported: {', '.join(POOLING_MODES)})"
        )
    if config.get("include_prompt") is False:
        raise OnnxExportError(
            f"{config_path}: include_prompt=false (prompt-excluding pooling) is not supported"
        )
    return modes


def _read_pipeline(model_dir: Path, kind: str) -> _Pipeline:
    """What follows the transformer, from ``model_dir/modules.json``; any module the numpy side does not
    reproduce (Dense, a router, a LogitScore head, ...) is refused by name."""
    path = model_dir / MODULES_FILE
    modules = _read_json(path)
    if not isinstance(modules, list) or not modules or not all(isinstance(m, dict) for m in modules):
        raise OnnxExportError(f"{path}: expected a non-empty list of modules")
    names = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if names[0] != "Transformer":
        raise OnnxExportError(f"{path}: the first module is {modules[0].get('type')!r}, not a Transformer")
    pooling: tuple[str, ...] = ()
    normalize = False
    for module, name in zip(modules[1:], names[1:], strict=True):
        if kind == "bi-encoder" and name == "Pooling" and not pooling and not normalize:
            pooling = _pooling_modes(model_dir / str(module.get("path", "")) / "config.json")
        elif kind == "bi-encoder" and name == "Normalize" and pooling:
            normalize = True
        else:
            raise OnnxExportError(
                f"{path}: module {module.get('type')!r} is not supported by the ONNX export of a {kind} "
                "(a bi-encoder may have Transformer, Pooling, Normalize; a cross-encoder only a Transformer)"
            )
    if kind == "bi-encoder" and not pooling:
        raise OnnxExportError(f"{path}: a bi-encoder needs a Pooling module after its Transformer")
    return _Pipeline(pooling_modes=pooling, normalize=normalize)


def _pool(token_embeddings: np.ndarray, attention_mask: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """sentence-transformers' ``Pooling`` in numpy (same modes, same order of concatenation, same clamp)."""
    mask = attention_mask[..., None].astype(token_embeddings.dtype)
    vectors = []
    for mode in modes:
        if mode == "cls":  # the first attended token, so left padding works as in the library
            first = attention_mask.argmax(axis=1)
            vectors.append(token_embeddings[np.arange(len(first)), first])
        elif mode == "max":
            vectors.append(np.where(mask > 0, token_embeddings, -np.inf).max(axis=1))
        else:
            summed = (token_embeddings * mask).sum(axis=1)
            counts = np.clip(mask.sum(axis=1), 1e-9, None)
            vectors.append(summed / (counts if mode == "mean" else np.sqrt(counts)))
    return np.concatenate(vectors, axis=-1).astype(np.float32)


def _normalize(vectors: np.ndarray) -> np.ndarray:
    """``torch.nn.functional.normalize`` (L2, eps 1e-12), as the ``Normalize`` module applies it."""
    return (vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


# -- inference ---------------------------------------------------------------------------------------------
class _OnnxModel:
    """The parts both wrappers share: the checked folder, its config, the tokenizer and the session."""

    kind: str = ""

    def __init__(self, path: str | Path, *, threads: int | None = None, verify_files: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise OnnxExportError(f"{self.path}: no ONNX export folder there")
        if verify_files:
            try:
                verify(self.path)
            except Exception as error:
                raise OnnxExportError(f"{self.path} is not a complete ONNX export: {error}") from error
        self.config = _read_json(self.path / ONNX_CONFIG)
        if self.config.get("kind") != self.kind:
            raise OnnxExportError(
                f"{self.path / ONNX_CONFIG}: this export is a {self.config.get('kind')!r}, not a {self.kind}"
            )
        self.pipeline = _read_pipeline(self.path, self.kind)
        import onnxruntime
        from transformers import AutoTokenizer

        quiet_transformers()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path))
        except Exception as error:  # the library raises many kinds for missing or corrupt tokenizer files
            raise OnnxExportError(f"cannot load the tokenizer in {self.path}: {error}") from error
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf kinds
            raise OnnxExportError(f"cannot load {self.path / ONNX_FILE}: {error}") from error
        self.input_names: list[str] = list(self.config["inputs"])
        self.max_length: int = int(self.config["max_length"])

    def _run(self, *texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = self.tokenizer(
            *[list(t) for t in texts],
            padding=True,
            truncation="longest_first",
            max_length=self.max_length,
            return_tensors="np",
        )
        feed = {name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names}
        (output,) = self.session.run([self.config["output"]], feed)
        return output, np.asarray(encoded["attention_mask"])

    @staticmethod
    def _batches(lengths: Sequence[int], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Indices longest first (less padding per batch, as sentence-transformers sorts) in batches."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        order = np.argsort([-length for length in lengths], kind="stable")
        return order, [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class OnnxEncoder(_OnnxModel):
    """An exported bi-encoder: ``encode(texts)`` gives the same embeddings as the torch model's ``encode``."""

    kind = "bi-encoder"

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Embeddings of ``texts`` (float32, one row per text, in input order)."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, int(self.config["dimension"])), dtype=np.float32)
        order, batches = self._batches([len(t) for t in texts], batch_size)
        embeddings = np.zeros((len(texts), int(self.config["dimension"])), dtype=np.float32)
        for batch in batches:
            token_embeddings, attention_mask = self._run([texts[i] for i in batch])
            vectors = _pool(token_embeddings, attention_mask, self.pipeline.pooling_modes)
            embeddings[batch] = _normalize(vectors) if self.pipeline.normalize else vectors
        return embeddings


class OnnxCrossEncoder(_OnnxModel):
    """An exported cross-encoder: ``predict(pairs)`` gives the torch ``CrossEncoder.predict`` scores."""

    kind = "cross-encoder"

    def predict(
        self, pairs: Sequence[tuple[str, str]], *, batch_size: int = 32, apply_activation: bool = True
    ) -> np.ndarray:
        """Scores of ``(query, document)`` pairs: one per pair (a single-label model) or one row of
        ``num_labels``; after the model's activation unless ``apply_activation`` is False (raw logits)."""
        pairs = [tuple(pair) for pair in pairs]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("predict takes (first text, second text) pairs")
        labels = int(self.config["num_labels"])
        if not pairs:
            return np.zeros((0,) if labels == 1 else (0, labels), dtype=np.float32)
        order, batches = self._batches([len(a) + len(b) for a, b in pairs], batch_size)
        logits = np.zeros((len(pairs), labels), dtype=np.float32)
        for batch in batches:
            output, _ = self._run([pairs[i][0] for i in batch], [pairs[i][1] for i in batch])
            logits[batch] = output
        if apply_activation and self.config["activation"] == "Sigmoid":
            logits = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return logits[:, 0] if labels == 1 else logits


# -- export ------------------------------------------------------------------------------------------------
def _load_torch_model(model_dir: Path, kind: str):  # -> SentenceTransformer | CrossEncoder
    """The torch model with eager attention: the SDPA path does not trace to ONNX with a dynamic mask."""
    quiet_transformers()
    model_kwargs = {"attn_implementation": "eager"}
    try:
        if kind == "bi-encoder":
            from sentence_transformers.sentence_transformer import SentenceTransformer

            return SentenceTransformer(str(model_dir), device="cpu", model_kwargs=model_kwargs)
        from sentence_transformers.cross_encoder import CrossEncoder

        return CrossEncoder(str(model_dir), device="cpu", model_kwargs=model_kwargs)
    except Exception as error:  # the library raises many kinds for missing or corrupt files
        raise ModelLoadError(f"cannot load the {kind} in {model_dir}: {error}") from error


def _export_graph(model, kind: str, directory: Path, *, opset: int) -> dict[str, Any]:
    """Write the transformer as ``model.onnx`` and the tokenizer; returns the facts ``onnx_config.json``
    keeps (inputs, output, maximum length, dimension or labels and activation)."""
    import torch

    transformer = model[0]
    network, tokenizer = transformer.auto_model, transformer.tokenizer
    text_config = (getattr(transformer, "modality_config", None) or {}).get("text", {})
    expected = "last_hidden_state" if kind == "bi-encoder" else "logits"
    if text_config and (text_config.get("method"), text_config.get("method_output_name")) != (
        "forward",
        expected,
    ):
        raise OnnxExportError(
            f"the transformer's text output is {text_config!r}; the ONNX export of a {kind} needs "
            f"forward → {expected}"
        )
    input_names = [name for name in tokenizer.model_input_names if name != "position_ids"]
    max_length = transformer.max_seq_length or tokenizer.model_max_length
    output_name = "token_embeddings" if kind == "bi-encoder" else "logits"

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, *inputs):
            return getattr(self.network(**dict(zip(input_names, inputs, strict=True))), expected)

    sample = tokenizer(
        ["a short probe", "a somewhat longer probe sentence for tracing"],
        *([["a document", "another document"]] if kind == "cross-encoder" else []),
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_tensors="pt",
    )
    axes = {0: "batch", 1: "sequence"}
    graph = Graph().eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(
            graph,
            tuple(sample[name] for name in input_names),
            str(directory / ONNX_FILE),
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes={
                **{name: axes for name in input_names},
                output_name: axes if kind == "bi-encoder" else {0: "batch"},
            },
            opset_version=opset,
            dynamo=False,
        )
    tokenizer.save_pretrained(str(directory))
    facts: dict[str, Any] = {
        "kind": kind,
        "inputs": input_names,
        "output": output_name,
        "max_length": max_length,
    }
    if kind == "bi-encoder":
        facts["dimension"] = int(model.get_embedding_dimension())
    else:
        activation = type(model.activation_fn).__name__
        if activation not in ACTIVATIONS:
            raise OnnxExportError(
                f"the cross-encoder's activation {activation} is not supported (supported: {', '.join(ACTIVATIONS)})"
            )
        facts.update(num_labels=int(model.num_labels), activation=activation)
    return facts


def _copy_model_configs(model_dir: Path, directory: Path) -> None:
    """The model's module configs, so the inference side reads pooling and normalization from them."""
    for name in MODEL_CONFIG_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, directory / name)
    for module in _read_json(model_dir / MODULES_FILE)[1:]:
        config = model_dir / str(module.get("path", "")) / "config.json"
        if module.get("path") and config.is_file():
            (directory / module["path"]).mkdir(parents=True, exist_ok=True)
            shutil.copy2(config, directory / module["path"] / "config.json")


def _differences(model, kind: str, directory: Path, probe_texts: Sequence[str]) -> dict[str, float]:
    """Largest absolute torch-vs-ONNX differences on the probe texts (see :class:`OnnxExport`)."""
    import torch

    if kind == "bi-encoder":
        reference = model.encode(list(probe_texts), convert_to_numpy=True, show_progress_bar=False)
        exported = OnnxEncoder(directory, verify_files=False).encode(probe_texts)

        def cosines(vectors: np.ndarray) -> np.ndarray:
            unit = _normalize(np.asarray(vectors, dtype=np.float64))
            return unit @ unit.T

        return {
            "cosine": float(np.abs(cosines(reference) - cosines(exported)).max()),
            "embedding": float(np.abs(reference - exported).max()),
        }
    # Each text with the next one, both ways round: every probe text is first and second in a pair.
    following = [*probe_texts[1:], probe_texts[0]]
    pairs = [*zip(probe_texts, following, strict=True), *zip(following, probe_texts, strict=True)]
    logits = model.predict(
        pairs, activation_fn=torch.nn.Identity(), convert_to_tensor=True, show_progress_bar=False
    )
    scores = model.activation_fn(logits).numpy()
    logits = logits.numpy()
    onnx_model = OnnxCrossEncoder(directory, verify_files=False)
    return {
        "score": float(np.abs(np.asarray(scores) - onnx_model.predict(pairs)).max()),
        "logit": float(np.abs(np.asarray(logits) - onnx_model.predict(pairs, apply_activation=False)).max()),
    }


def export_onnx(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    kind: Kind = "bi-encoder",
    tolerance: float = DEFAULT_TOLERANCE,
    probe_texts: Sequence[str] = PROBE_TEXTS,
    opset: int = OPSET,
) -> OnnxExport:
    """Export the sentence-transformers model in ``model_dir`` to an ONNX folder at ``output_dir`` (which
    must not exist), after checking on ``probe_texts`` that the ONNX outputs are within ``tolerance`` of
    the torch model's. Raises :class:`OnnxParityError` when they are not, ``ModelLoadError`` when the model
    cannot be loaded and :class:`OnnxExportError` when its modules cannot be exported; ``output_dir`` is
    then left as it was."""
    started = time.perf_counter()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be positive, not {tolerance!r}")
    if len(probe_texts) < 2:
        raise ValueError("the parity check needs at least two probe texts")
    model_dir, output_dir = Path(model_dir), Path(output_dir)
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: no model folder there")
    if not (model_dir / MODULES_FILE).is_file():
        raise ModelLoadError(f"{model_dir}: no {MODULES_FILE}; not a sentence-transformers model folder")
    _read_pipeline(model_dir, kind)  # refuse unsupported modules before loading any weights
    model = _load_torch_model(model_dir, kind)
    result: dict[str, Any] = {}

    def write(directory: Path) -> None:
        facts = _export_graph(model, kind, directory, opset=opset)
        _copy_model_configs(model_dir, directory)
        config = {**facts, "opset": opset, "source_model": str(model_dir), "tolerance": tolerance}
        (directory / ONNX_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        differences = _differences(model, kind, directory, probe_texts)
        worst = max(differences.values())
        if not worst <= tolerance:  # also catches NaN
            raise OnnxParityError(
                f"the ONNX export of {model_dir} differs from the torch model by {worst:.3g} (more than "
                f"{tolerance:g}) on {len(probe_texts)} probe texts: "
                + ", ".join(f"{name} {value:.3g}" for name, value in differences.items()),
                differences=differences,
                tolerance=tolerance,
            )
        config["parity"] = {"max_abs_difference": differences, "probe_texts": len(probe_texts)}
        (directory / ONNX_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        result.update(differences=differences, worst=worst)

    path = ArtifactStore(output_dir.parent).write_directory(
        output_dir.name,
        write,
        manifest={"kind": f"onnx-{kind}", "source_model": str(model_dir), "opset": opset},
    )
    return OnnxExport(
        path=path,
        kind=kind,
        max_abs_difference=result["worst"],
        passed=True,
        tolerance=tolerance,
        seconds=time.perf_counter() - started,
        differences=result["differences"],
    )
