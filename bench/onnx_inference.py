"""ONNX benchmark: inference rate of the base model through torch (sentence-transformers) and through its
ONNX export (``core/onnx_export.py``, onnxruntime), on the same texts in the same run.

(a) bi-encoder: ``SentenceTransformer.encode`` vs ``OnnxEncoder.encode`` of 500 Cranfield abstracts
    (title + abstract, ~150 words, some past the 256-token limit);
(b) cross-encoder: ``CrossEncoder.predict`` vs ``OnnxCrossEncoder.predict`` of 500 (Cranfield query,
    abstract) pairs, the reranker built from the base model with one label (untrained head: speed only).

Batch 32, one warm-up pass, then the median of 3 timed passes each; rate = texts (pairs) per second,
ratio = ONNX rate / torch rate (> 1: ONNX is faster). Also the largest torch-vs-ONNX difference on these
texts, beside the export's own parity check on its probe texts. Both sides run on the CPU with their
default thread counts (recorded).

Usage (from the project root; run it alone on the machine):
    nice -n 10 .venv/bin/python bench/onnx_inference.py

Writes bench/results/onnx.json and bench/results/onnx.md. (Not named onnx.py: as a script its folder comes
first on sys.path and it would shadow the onnx package that torch.onnx.export imports.)
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DATA = PROJECT.parent / "shared" / "datasets" / "cranfield"
RESULTS = PROJECT / "bench" / "results"
TEXTS = 500
BATCH_SIZE = 32
RUNS = 3


def cranfield_fields(path: Path) -> list[str]:
    """The ``.W`` field of each record of a Cranfield file (``.I`` starts a record), whitespace folded."""
    records = re.split(r"^\.I ", path.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    texts = []
    for record in records:
        match = re.search(r"^\.W\n(.*?)(?=^\.[A-Z]\b|\Z)", record, flags=re.MULTILINE | re.DOTALL)
        if match is None:
            raise ValueError(f"{path}: record {record.split(maxsplit=1)[0]} has no .W field")
        texts.append(" ".join(match.group(1).split()))
    return texts


def timed(run: Callable[[], Any]) -> tuple[float, list[float], Any]:
    """Median seconds of ``RUNS`` calls after one warm-up call, every time, and the last result."""
    run()
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), seconds, result


def compare(name: str, count: int, torch_run, onnx_run) -> dict[str, Any]:
    torch_median, torch_seconds, torch_output = timed(torch_run)
    onnx_median, onnx_seconds, onnx_output = timed(onnx_run)
    row = {
        "measurement": name,
        "items": count,
        "torch_seconds": torch_seconds,
        "onnx_seconds": onnx_seconds,
        "torch_rate": count / torch_median,
        "onnx_rate": count / onnx_median,
        "ratio": torch_median / onnx_median,
        "max_abs_difference": float(np.abs(np.asarray(torch_output) - np.asarray(onnx_output)).max()),
    }
    print(
        f"{name}: torch {row['torch_rate']:.1f}/s, ONNX {row['onnx_rate']:.1f}/s, "
        f"ratio {row['ratio']:.2f}, max |Δ| {row['max_abs_difference']:.2g}",
        flush=True,
    )
    return row


def main() -> None:
    import onnxruntime
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model
    from fine_tuning_assets.core.onnx_export import OnnxCrossEncoder, OnnxEncoder, export_onnx

    documents = cranfield_fields(DATA / "cran.all.1400")[:TEXTS]
    queries = cranfield_fields(DATA / "cran.qry")
    pairs = [(queries[i % len(queries)], document) for i, document in enumerate(documents)]
    base = resolve_base_model(None)
    rows, exports = [], {}
    with tempfile.TemporaryDirectory(prefix="fta-onnx-bench-") as scratch:
        scratch = Path(scratch)
        bi = export_onnx(base, scratch / "bi-encoder-onnx")
        model = load_sentence_transformer(base)
        encoder = OnnxEncoder(bi.path)
        rows.append(
            compare(
                f"bi-encoder encode, {len(documents)} texts",
                len(documents),
                lambda: model.encode(
                    documents, batch_size=BATCH_SIZE, convert_to_numpy=True, show_progress_bar=False
                ),
                lambda: encoder.encode(documents, batch_size=BATCH_SIZE),
            )
        )
        CrossEncoder(base, num_labels=1, device="cpu").save(str(scratch / "reranker"))
        reranker = CrossEncoder(str(scratch / "reranker"), device="cpu")
        cross = export_onnx(scratch / "reranker", scratch / "reranker-onnx", kind="cross-encoder")
        onnx_reranker = OnnxCrossEncoder(cross.path)
        rows.append(
            compare(
                f"cross-encoder predict, {len(pairs)} pairs",
                len(pairs),
                lambda: reranker.predict(
                    pairs, batch_size=BATCH_SIZE, convert_to_numpy=True, show_progress_bar=False
                ),
                lambda: onnx_reranker.predict(pairs, batch_size=BATCH_SIZE),
            )
        )
        for export in (bi, cross):
            exports[export.kind] = {
                "export_seconds": export.seconds,
                "probe_differences": export.differences,
                "onnx_megabytes": (export.path / "model.onnx").stat().st_size / 1e6,
            }

    result = {
        "model": "all-MiniLM-L6-v2 (bundled base)",
        "data": "Cranfield: first 500 abstracts; queries cycled for the reranker pairs",
        "batch_size": BATCH_SIZE,
        "runs": RUNS,
        "rows": rows,
        "exports": exports,
        "environment": {
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "python": platform.python_version(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "onnx.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        "| measurement | torch | ONNX | ratio (ONNX / torch rate) | max \\|Δ\\| torch vs ONNX |",
        "|---|---|---|---|---|",
        *(
            f"| {row['measurement']} | {row['torch_rate']:.1f}/s | {row['onnx_rate']:.1f}/s | "
            f"{row['ratio']:.2f} | {row['max_abs_difference']:.2g} |"
            for row in rows
        ),
        "",
        f"Batch {BATCH_SIZE}, median of {RUNS} runs after a warm-up; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end: the machine is shared). Export: "
        + "; ".join(
            f"{kind} {facts['export_seconds']:.0f} s, {facts['onnx_megabytes']:.0f} MB, parity on the probe "
            f"texts {max(facts['probe_differences'].values()):.2g}"
            for kind, facts in exports.items()
        )
        + ".",
    ]
    (RESULTS / "onnx.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
