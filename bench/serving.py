"""Serving benchmark: pair predictions over HTTP vs in-process, and the ingestion check at scale.

(a) Pair prediction with the active dedup model of ``--home`` (an FTA_HOME where `fta demo` ran; the bench
    works on a copy): the in-process ``MergePredictor`` vs ``fta serve`` over real HTTP (httpx, keep-alive)
    — throughput of batches of ``--batch`` pairs, and the latency of one pair per request (p50/p99), both
    with ``--pairs`` distinct pairs of the demo's statements (never the same pair twice, so the server's
    prediction cache never answers). Ratio = HTTP throughput / in-process throughput. The server logs every
    prediction (the served path); the in-process side logs nothing.
(b) Recall on the demo data: for every pair of insights the demo's reviewers merged, is the other insight
    among the top k candidates the vector index returns for one of them (base embeddings, usearch HNSW,
    int8)? For k = 5, 10, 20.
(c) ``check_insight`` against 10k, 100k and 1M stored insights: index build time (embedding + adding),
    index memory, and p50/p99 of one check (embed the new text, ANN search, read the candidates' statements,
    the active pair model on the top k, log the prediction), with ``--checks`` new statements each.
    The stored insights are synthetic medical claims from templates (distinct strings). Up to
    ``--embed-limit`` of them are embedded by the base model; beyond that (the 1M size), each further
    vector is a stored embedding plus Gaussian noise (renormalised; cosine ≈ 0.9 to its source) and its
    statement is its source's text with a variant number: embedding a million texts takes ~50 min on 2
    cores, and the search cost depends on the vectors' count and spread, not on where they came from.
    Rows go into the insights table by bulk insert (bench setup, not the import path).

Usage (from the project root, nothing else running):
    nice -n 5 .venv/bin/python bench/serving.py --home /path/to/demo/.fta [--sizes 10000,100000,1000000]

Writes bench/results/serving.json and bench/results/serving.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "bench" / "results"
FTA = str(Path(sys.executable).with_name("fta"))

SUBJECTS = [
    "vitamin D",
    "metformin",
    "aspirin",
    "statin therapy",
    "omega-3 supplements",
    "daily walking",
    "intermittent fasting",
    "a Mediterranean diet",
    "green tea",
    "folic acid",
    "zinc",
    "melatonin",
    "cognitive behavioural therapy",
    "resistance training",
    "low-dose aspirin",
    "SGLT2 inhibitors",
    "beta blockers",
    "ACE inhibitors",
    "probiotics",
    "caffeine",
    "iron supplements",
    "magnesium",
    "yoga",
    "mindfulness training",
    "a low-salt diet",
    "HPV vaccination",
    "influenza vaccination",
    "smoking cessation",
    "weight loss surgery",
    "calcium supplements",
]
VERBS = [
    "lowers",
    "raises",
    "reduces",
    "increases",
    "does not change",
    "halves",
    "doubles",
    "modestly reduces",
]
OUTCOMES = [
    "the risk of hip fracture",
    "LDL cholesterol",
    "systolic blood pressure",
    "HbA1c",
    "all-cause mortality",
    "the incidence of stroke",
    "depressive symptoms",
    "sleep latency",
    "the risk of colorectal cancer",
    "hospital admissions",
    "migraine frequency",
    "body weight",
    "the risk of dementia",
    "fatigue",
    "the rate of preterm birth",
    "asthma exacerbations",
    "knee pain",
    "insulin resistance",
    "the risk of myocardial infarction",
    "anxiety scores",
]
POPULATIONS = [
    "in adults over 65",
    "in children",
    "in pregnant women",
    "in people with type 2 diabetes",
    "in smokers",
    "in postmenopausal women",
    "in athletes",
    "in shift workers",
    "in heart failure patients",
    "in adolescents",
    "in people with obesity",
    "in nursing home residents",
    "in healthy volunteers",
    "in patients after surgery",
    "in people with chronic kidney disease",
]
QUALIFIERS = [
    "",
    "within six months",
    "after two years",
    "at high doses",
    "at low doses",
    "in a large cohort",
    "in a randomised trial",
    "compared with placebo",
    "when taken daily",
    "when taken weekly",
    "in observational data",
    "in a meta-analysis",
]


def synthetic_statements(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct template claims (a random sample of the template space)."""
    radices = [len(SUBJECTS), len(VERBS), len(OUTCOMES), len(POPULATIONS), len(QUALIFIERS)]
    space = int(np.prod(radices))
    if n > space:
        raise ValueError(f"only {space} distinct statements")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(space, size=n, replace=False)
    out = []
    for code in chosen.tolist():
        parts = []
        for radix in radices:
            parts.append(code % radix)
            code //= radix
        s, v, o, p, q = parts
        out.append(
            " ".join(
                w
                for w in (SUBJECTS[s].capitalize(), VERBS[v], OUTCOMES[o], POPULATIONS[p], QUALIFIERS[q])
                if w
            )
            + "."
        )
    return out


def percentiles(values_ms: list[float]) -> dict[str, float]:
    ordered = np.asarray(values_ms)
    return {
        "p50_ms": round(float(np.percentile(ordered, 50)), 2),
        "p99_ms": round(float(np.percentile(ordered, 99)), 2),
        "mean_ms": round(float(ordered.mean()), 2),
        "n": len(values_ms),
    }


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- (a) HTTP vs in-process -----------------------------------------------------------------------------
def demo_pairs(home: Path, count: int) -> list[tuple[str, str]]:
    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    snapshot = FeedbackStore(open_database(f"sqlite:///{home / 'fta.sqlite'}")).snapshot(
        recorded_through=None
    )
    texts = sorted({i.statement for i in snapshot.decisions.insights})
    rng = np.random.default_rng(1)
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < count:
        a, b = rng.choice(len(texts), size=2, replace=False)
        pairs.add((texts[a], texts[b]))
    return sorted(pairs)


def start_server(home: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "DAGSTER_"))}
    env.update({"FTA_HOME": str(home), "FTA_API_TOKEN": "bench"})
    server = subprocess.Popen(
        [FTA, "serve", "--port", str(port), "--log-level", "warning"],
        cwd=workdir,
        env=env,
        stdout=(workdir / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return server, f"http://127.0.0.1:{port}"


def wait_until_ready(client) -> None:  # noqa: ANN001  (an httpx.Client)
    """Until the server answers and has built its insight index (which would compete for the cores)."""
    import httpx

    for _ in range(600):
        try:
            health = client.get("/api/health")
            if health.status_code == 200 and health.json()["insight_index"] != "building":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready in 5 minutes")


def bench_http(home: Path, *, pairs: int, batch: int, singles: int) -> dict[str, Any]:
    import httpx

    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.core.registry import ModelRegistry
    from fine_tuning_assets.tasks.dedup.prediction import MergePredictor

    everything = demo_pairs(home, 2 * pairs + 2 * singles + 2 * batch)
    warm, http_batch, local_batch = (
        everything[:batch],
        everything[batch : batch + pairs],
        everything[batch + pairs : batch + 2 * pairs],
    )
    rest = everything[batch + 2 * pairs :]
    http_single, local_single = rest[:singles], rest[singles : 2 * singles]

    predictor = MergePredictor.load(registry=ModelRegistry(open_database(f"sqlite:///{home / 'fta.sqlite'}")))
    predictor.predict(warm)
    started = time.perf_counter()
    for start in range(0, len(local_batch), batch):
        predictor.predict(local_batch[start : start + batch], batch_size=batch)
    local_rate = len(local_batch) / (time.perf_counter() - started)
    local_latencies = []
    for pair in local_single:
        t = time.perf_counter()
        predictor.predict([pair])
        local_latencies.append((time.perf_counter() - t) * 1000)
    model = predictor.model
    del predictor

    workdir = Path(tempfile.mkdtemp(prefix="fta-bench-serve-"))
    server, url = start_server(home, workdir)
    try:
        client = httpx.Client(base_url=url, timeout=300)
        wait_until_ready(client)
        body = lambda chunk: {"pairs": [{"text_a": a, "text_b": b} for a, b in chunk]}  # noqa: E731
        client.post("/api/dedup/predict/batch", json=body(warm)).raise_for_status()
        started = time.perf_counter()
        for start in range(0, len(http_batch), batch):
            answer = client.post("/api/dedup/predict/batch", json=body(http_batch[start : start + batch]))
            answer.raise_for_status()
            assert not any(p["cached"] for p in answer.json()["predictions"])
        http_rate = len(http_batch) / (time.perf_counter() - started)
        http_latencies = []
        for a, b in http_single:
            t = time.perf_counter()
            client.post("/api/dedup/predict", json={"text_a": a, "text_b": b}).raise_for_status()
            http_latencies.append((time.perf_counter() - t) * 1000)
        served_model = client.post("/api/dedup/predict", json={"text_a": "a x", "text_b": "b y"}).json()[
            "model"
        ]
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "model": model,
        "served_model": served_model,
        "batch": batch,
        "pairs_per_side": pairs,
        "in_process_pairs_per_s": round(local_rate, 1),
        "http_batched_pairs_per_s": round(http_rate, 1),
        "http_over_in_process": round(http_rate / local_rate, 3),
        "in_process_single": percentiles(local_latencies),
        "http_single": percentiles(http_latencies),
    }


# -- (d) a promotion picked up -------------------------------------------------------------------------
def bench_pickup(home: Path, *, repeats: int = 3) -> dict[str, Any]:
    """Seconds from a promotion (and a rollback) through the API to the first /api/dedup/predict answer by
    the new active version: a second version registered with the active one's files, as a retrain would."""
    import httpx

    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.core.registry import ModelRegistry

    registry = ModelRegistry(open_database(f"sqlite:///{home / 'fta.sqlite'}"))
    v1 = registry.active("dedup")
    workdir = Path(tempfile.mkdtemp(prefix="fta-bench-pickup-"))
    server, url = start_server(home, workdir)
    auth = {"Authorization": "Bearer bench"}
    timings: dict[str, list[float]] = {"promote": [], "rollback": []}
    try:
        client = httpx.Client(base_url=url, timeout=300)
        wait_until_ready(client)

        def answered_by(version_id: int, started: float) -> float:
            n = 0
            while True:
                n += 1
                answer = client.post(
                    "/api/dedup/predict", json={"text_a": f"Claim {n} a.", "text_b": f"Claim {n} b."}
                )
                if answer.json()["model_version_id"] == version_id:
                    return time.perf_counter() - started
                time.sleep(0.05)

        answered_by(v1.id, time.perf_counter())
        for _ in range(repeats):
            v2 = registry.register(
                task="dedup",
                model_kind=v1.model_kind,
                base_model=v1.base_model,
                dataset_version=v1.dataset_version,
                config=v1.config,
                actor="bench",
            )
            registry.transition(
                v2.id, "evaluating", actor="bench", reason="bench", artifact_path=v1.artifact_path
            )
            registry.transition(v2.id, "staged", actor="bench", reason="bench", evaluation=v1.evaluation)
            started = time.perf_counter()
            client.post(
                f"/api/models/{v2.id}/promote",
                json={"reason": "bench", "expected_active_id": v1.id},
                headers=auth,
            ).raise_for_status()
            timings["promote"].append(answered_by(v2.id, started))
            started = time.perf_counter()
            client.post(
                f"/api/models/{v2.id}/rollback", json={"reason": "bench"}, headers=auth
            ).raise_for_status()
            timings["rollback"].append(answered_by(v1.id, started))
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    return {name: [round(t, 2) for t in values] for name, values in timings.items()}


# -- (b) recall on the demo data -----------------------------------------------------------------------
def bench_recall(home: Path, ks: list[int]) -> dict[str, Any]:
    """For each demo insight that has a true duplicate (another insight stating the same claim, as the demo
    generator knows: :func:`~fine_tuning_assets.tasks.dedup.demo.demo_claims`), is one among its k nearest
    candidates in the index? Also the index's agreement with exact search (top 10, cosine)."""
    from collections import defaultdict

    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.tasks.dedup.demo import demo_claims
    from fine_tuning_assets.tasks.dedup.ingestion import InsightIndex
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    store = FeedbackStore(open_database(f"sqlite:///{home / 'fta.sqlite'}"))
    insights = {i.id: i for i, _ in store.insights_created_since(None)}
    claims = demo_claims()
    if set(claims) != set(insights):
        raise SystemExit("--home is not a store seeded with the default demo (fta demo)")
    same: dict[str, set[str]] = defaultdict(set)
    for insight_id, claim in claims.items():
        same[claim].add(insight_id)
    folder = Path(tempfile.mkdtemp(prefix="fta-bench-recall-"))
    index = InsightIndex.open(store, folder, base_model=None)  # a new folder: built from the store
    ids = list(insights)
    vectors = index.embed([insights[i].statement for i in ids])
    queries = [n for n, i in enumerate(ids) if len(same[claims[i]]) > 1]
    found = {k: 0 for k in ks}
    for n in queries:
        twins = same[claims[ids[n]]] - {ids[n]}
        hits = [i for i, _ in index.candidates(vectors[n], k=max(ks), exclude=[ids[n]])]
        for k in ks:
            found[k] += bool(twins & set(hits[:k]))
    exact = np.argsort(-(vectors @ vectors.T), axis=1)[:, 1:11]
    agree = sum(
        len({ids[j] for j in exact[n]} & {i for i, _ in index.candidates(vectors[n], k=10, exclude=[ids[n]])})
        for n in range(len(ids))
    )
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "insights": len(ids),
        "claims": len(same),
        "queries": len(queries),
        "recall_at_k": {str(k): round(found[k] / len(queries), 4) for k in ks},
        "ann_vs_exact_top10": round(agree / (10 * len(ids)), 4),
    }


# -- (c) the check at scale ----------------------------------------------------------------------------
def bench_scale(
    home: Path, sizes: list[int], *, checks: int, embed_limit: int, k: int
) -> list[dict[str, Any]]:

    from fine_tuning_assets.core.database import insights as insights_table
    from fine_tuning_assets.core.database import open_database
    from fine_tuning_assets.core.registry import ModelRegistry
    from fine_tuning_assets.serving.model_cache import ModelCache
    from fine_tuning_assets.tasks.dedup.ingestion import InsightIndex, check_insight
    from fine_tuning_assets.tasks.dedup.serving import load_predictor
    from fine_tuning_assets.tasks.dedup.store import FeedbackStore

    largest = max(sizes)
    statements = synthetic_statements(min(largest, embed_limit) + checks, seed=2)
    new_texts, base_texts = statements[:checks], statements[checks:]
    cache_file = RESULTS / f".serving-embeddings-{len(base_texts)}.npy"  # git-ignored scratch
    from fine_tuning_assets.core.base_model import load_sentence_transformer, resolve_base_model

    encoder = load_sentence_transformer(resolve_base_model(None))
    started = time.perf_counter()
    if cache_file.is_file():
        base_vectors = np.load(cache_file)
        embed_seconds = None
    else:
        base_vectors = encoder.encode(
            base_texts,
            batch_size=256,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=True,
        ).astype(np.float32)
        embed_seconds = time.perf_counter() - started
        np.save(cache_file, base_vectors)
    embed_rate = len(base_texts) / embed_seconds if embed_seconds else None
    rng = np.random.default_rng(3)
    results = []
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"fta-bench-scale-{size}-"))
        shutil.copy(home / "fta.sqlite", work / "fta.sqlite")
        engine = open_database(f"sqlite:///{work / 'fta.sqlite'}")
        real = min(size, len(base_texts))
        source = (
            np.concatenate([np.arange(real), rng.integers(0, real, size=size - real)])
            if size > real
            else np.arange(real)
        )
        vectors = base_vectors[source].copy()
        if size > real:
            noise = rng.standard_normal((size - real, vectors.shape[1])).astype(np.float32) * 0.025
            vectors[real:] += noise
            vectors[real:] /= np.linalg.norm(vectors[real:], axis=1, keepdims=True)
        ids = [f"s{n}" for n in range(size)]
        texts = [
            base_texts[s] if n < real else f"{base_texts[s][:-1]} (variant {n})."
            for n, s in enumerate(source.tolist())
        ]
        store = FeedbackStore(engine)
        # Opened before the synthetic rows exist: it embeds the demo's own insights; the synthetic ones get
        # the vectors made above, added directly, and the watermark moves past their rows.
        index = InsightIndex.open(store, work / "indexes", base_model=None)
        t = time.perf_counter()
        now = datetime.now(UTC)
        with engine.begin() as connection:
            for start in range(0, size, 20_000):
                connection.execute(
                    insights_table.insert(),
                    [
                        {"id": i, "statement": s, "extra_metadata": {}, "created_at": now}
                        for i, s in zip(
                            ids[start : start + 20_000], texts[start : start + 20_000], strict=True
                        )
                    ],
                )
        insert_seconds = time.perf_counter() - t
        rss_before = rss_mb()
        t = time.perf_counter()
        index.index.add(ids, vectors, threads=os.cpu_count() or 2)
        add_seconds = time.perf_counter() - t
        index.index.watermark = now.isoformat()
        assert index.sync() == 0
        memory = index.index.memory_bytes()
        cache = ModelCache(
            active_version=lambda _t: None,
            loaders={"dedup": partial(load_predictor, ModelRegistry(engine), base_model=None)},
        )
        loaded = cache.get("dedup")
        check_insight(new_texts[0], store=store, index=index, loaded=loaded, engine=engine, save=False, k=k)
        latencies = []
        for text in new_texts[1:]:
            t = time.perf_counter()
            check_insight(text, store=store, index=index, loaded=loaded, engine=engine, save=False, k=k)
            latencies.append((time.perf_counter() - t) * 1000)
        # Where the time goes, on the same texts: the embedding and the search alone.
        embed_ms, search_ms = [], []
        for text in new_texts[1:50]:
            t = time.perf_counter()
            vector = index.embed([text])[0]
            embed_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            index.candidates(vector, k=k)
            search_ms.append((time.perf_counter() - t) * 1000)
        results.append(
            {
                "insights": len(index.index),
                "embedded_by_the_model": real,
                "synthetic_vectors": size - real,
                "k": k,
                "model": loaded.predictor.model,
                "insert_rows_s": round(insert_seconds, 1),
                "index_add_s": round(add_seconds, 1),
                "embedding_rate_texts_per_s": round(embed_rate, 1) if embed_rate else "cached",
                "index_memory_mb": round(memory / 2**20, 1),
                "process_rss_growth_mb": round(rss_mb() - rss_before, 1),
                "check": percentiles(latencies),
                "embed_one_text": percentiles(embed_ms),
                "ann_search": percentiles(search_ms),
            }
        )
        print(json.dumps(results[-1]), flush=True)
        del index, vectors
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    return results


def write_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Serving benchmark ({report['date']}, {report['machine']})", ""]
    a = report.get("http")
    if a:
        lines += [
            "## Pair prediction: HTTP vs in-process",
            "",
            f"Model: {a['model']} (served: {a['served_model']}); {a['pairs_per_side']} distinct pairs per side, batches of {a['batch']}.",
            "",
            "| | in-process | HTTP (`fta serve`) | ratio |",
            "|---|---|---|---|",
            f"| batched throughput (pairs/s) | {a['in_process_pairs_per_s']} | {a['http_batched_pairs_per_s']} | {a['http_over_in_process']} |",
            f"| one pair: p50 / p99 ms | {a['in_process_single']['p50_ms']} / {a['in_process_single']['p99_ms']} | {a['http_single']['p50_ms']} / {a['http_single']['p99_ms']} | |",
            "",
        ]
    p = report.get("pickup_seconds")
    if p:
        lines += [
            "## A promotion or rollback through the API, until /api/dedup/predict answers with it",
            "",
            f"promote: {', '.join(f'{t} s' for t in p['promote'])}; rollback: {', '.join(f'{t} s' for t in p['rollback'])} "
            "(the server checks the registry every second and loads the version in the background).",
            "",
        ]
    r = report.get("recall")
    if r:
        lines += [
            "## Recall of the true duplicate among the candidates (demo data)",
            "",
            f"{r['insights']} insights stating {r['claims']} claims; {r['queries']} insights have a true duplicate (the same claim). "
            f"Share whose true duplicate is among the k nearest candidates (base embedding, usearch HNSW int8). "
            f"The index agrees with exact cosine search on {r['ann_vs_exact_top10']:.1%} of the top 10.",
            "",
            "| k | " + " | ".join(r["recall_at_k"]) + " |",
            "|---|" + "---|" * len(r["recall_at_k"]),
            "| recall | " + " | ".join(str(v) for v in r["recall_at_k"].values()) + " |",
            "",
        ]
    s = report.get("scale")
    if s:
        lines += [
            "## Ingestion check against N stored insights",
            "",
            "| insights | embedded / synthetic vectors | index add s | index MB | check p50 ms | check p99 ms | embed p50 ms | ANN p50 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in s:
            lines.append(
                f"| {row['insights']:,} | {row['embedded_by_the_model']:,} / {row['synthetic_vectors']:,} | {row['index_add_s']} | "
                f"{row['index_memory_mb']} | {row['check']['p50_ms']} | {row['check']['p99_ms']} | "
                f"{row['embed_one_text']['p50_ms']} | {row['ann_search']['p50_ms']} |"
            )
        lines += ["", f"Pair model on the top {s[0]['k']} candidates: {s[0]['model']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--home", required=True, help="an FTA_HOME where `fta demo` ran (copied, not changed)"
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--embed-limit", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to skip: http, pickup, recall, scale"
    )
    args = parser.parse_args()
    source = Path(args.home)
    home = Path(tempfile.mkdtemp(prefix="fta-bench-home-"))
    shutil.copy(source / "fta.sqlite", home / "fta.sqlite")  # model files stay where the registry points
    skip = set(filter(None, args.skip.split(",")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
    }
    previous = RESULTS / "serving.json"
    if previous.is_file():
        report = {**json.loads(previous.read_text()), **report}
    if "http" not in skip:
        report["http"] = bench_http(home, pairs=args.pairs, batch=args.batch, singles=args.singles)
        print(json.dumps(report["http"]), flush=True)
    if "pickup" not in skip:
        report["pickup_seconds"] = bench_pickup(home)
        print(json.dumps(report["pickup_seconds"]), flush=True)
    if "recall" not in skip:
        report["recall"] = bench_recall(home, [1, 5, 10, 20, 30])
        print(json.dumps(report["recall"]), flush=True)
    if "scale" not in skip:
        sizes = [int(s) for s in args.sizes.split(",")]
        report["scale"] = bench_scale(home, sizes, checks=args.checks, embed_limit=args.embed_limit, k=args.k)
    (RESULTS / "serving.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "serving.md").write_text(write_markdown(report))
    print(write_markdown(report))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
