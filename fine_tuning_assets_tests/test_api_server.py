"""`fta serve` as a deployment runs it: a real uvicorn server on a free port, over a copy of the models `fta
demo` trained, called with a real HTTP client — predictions from the active models, the admin token, many
requests at once, a promotion and a rollback picked up without a restart, live accuracy once the humans'
decisions arrive, the ingestion check, and a Dagster run started through the API."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import FTA, fta

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.core.registry import ModelRegistry
from fine_tuning_assets.tasks.dedup.store import FeedbackStore

TOKEN = "server-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(project, demo, tmp_path_factory):
    """A copy of the demo's checkout (its store and Dagster instance; the model files stay where the registry
    points), and `fta serve` running on it."""
    checkout = tmp_path_factory.mktemp("served") / "checkout"
    shutil.copytree(project, checkout, ignore=shutil.ignore_patterns("artifacts"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTA_", "FINETUNE_", "DAGSTER_"))}
    env.update({"FTA_HOME": str(checkout / ".fta"), "FTA_API_TOKEN": TOKEN, "FINETUNE_MIN_EXAMPLES": "5"})
    log = (checkout / "serve.log").open("wb")
    server = subprocess.Popen(
        [FTA, "serve", "--port", str(port), "--refresh-seconds", "0.5", "--log-level", "warning"],
        cwd=checkout,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    deadline = time.monotonic() + 120
    while True:
        try:
            if client.get("/api/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((checkout / "serve.log").read_text())
        time.sleep(0.5)
    yield client, checkout
    client.close()
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def _demo_pairs(checkout: Path, n: int) -> list[tuple[str, str, str, str]]:
    """Pending pairs of the demo store (insight ids and statements): decisions the humans have not made yet."""
    store = FeedbackStore(open_database(f"sqlite:///{checkout / '.fta' / 'fta.sqlite'}"))
    pending = store.pending()
    statements = {i.id: i.statement for i in pending.insights}
    pairs = []
    for cluster in pending.clusters:
        a, b = cluster.members[0].insight_id, cluster.members[1].insight_id
        pairs.append((a, b, statements[a], statements[b]))
    return pairs[:n]


def _predict(client: httpx.Client, a: str, b: str) -> dict:
    answer = client.post("/api/dedup/predict", json={"text_a": a, "text_b": b})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _active(client: httpx.Client, task: str) -> dict | None:
    status = {s["task"]: s for s in client.get("/api/models/status").json()}
    return status[task]["active"]


def test_predictions_come_from_the_active_models_and_the_spec_is_served(served):
    client, checkout = served
    active = _active(client, "dedup")
    assert active is not None, "fta demo leaves an active dedup model"
    _a, _b, text_a, text_b = _demo_pairs(checkout, 1)[0]
    answer = _predict(client, text_a, text_b)
    assert answer["model_version_id"] == active["id"] and answer["fallback_reason"] is None
    ranked = client.post("/api/retrieval/rank", json={"query": "how do I export my notes", "top_k": 3}).json()
    assert len(ranked["results"]) == 3
    assert client.get("/openapi.json").json()["info"]["title"] == "fine_tuning_assets"
    assert client.get("/docs").status_code == 200


def test_a_bad_body_is_a_422_naming_the_field_and_changes_nothing(served):
    client, _ = served

    def state() -> list:
        return [
            (s["active"], (s["serving"] or {}).get("prediction_cache_size"))
            for s in client.get("/api/models/status").json()
        ]

    before = state()
    answer = client.post("/api/dedup/predict", json={"text_a": "x", "text_b": ""})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/json"
    assert answer.json()["detail"][0]["loc"] == ["body", "text_b"]
    garbage = client.post(
        "/api/dedup/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert garbage.status_code == 422
    assert state() == before, "nothing was predicted, cached or changed"


def test_admin_endpoints_refuse_a_missing_or_wrong_token(served):
    client, _ = served
    body = {"reason": "x", "expected_active_id": 1}
    assert client.post("/api/models/1/promote", json=body).status_code == 401
    assert (
        client.post("/api/models/1/promote", json=body, headers={"Authorization": "Bearer x"}).status_code
        == 401
    )
    assert client.post("/api/runs", json={"task": "dedup"}).status_code == 401


def test_concurrent_requests_get_the_answers_single_requests_get(served):
    client, checkout = served
    pairs = [(a, b) for _ia, _ib, a, b in _demo_pairs(checkout, 12)]
    expected = [_predict(client, a, b)["probability"] for a, b in pairs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        singles = list(pool.map(lambda p: _predict(client, *p)["probability"], pairs * 2))
        batches = list(
            pool.map(
                lambda _: client.post(
                    "/api/dedup/predict/batch", json={"pairs": [{"text_a": a, "text_b": b} for a, b in pairs]}
                ).json(),
                range(4),
            )
        )
    assert singles == pytest.approx(expected * 2, abs=1e-6)
    for batch in batches:
        assert [p["probability"] for p in batch["predictions"]] == pytest.approx(expected, abs=1e-6)


def _wait_for_version(client: httpx.Client, pair: tuple[str, str], version_id: int) -> float:
    started = time.monotonic()
    while time.monotonic() - started < 30:
        if _predict(client, *pair)["model_version_id"] == version_id:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"/api/dedup/predict never answered with version {version_id}")


def test_a_promotion_and_a_rollback_through_the_api_change_the_answers_within_seconds(served):
    client, checkout = served
    registry = ModelRegistry(open_database(f"sqlite:///{checkout / '.fta' / 'fta.sqlite'}"))
    v1 = registry.active("dedup")
    # A second version: the same trained files, registered and staged as a retrained model would be.
    v2 = registry.register(
        task="dedup",
        model_kind=v1.model_kind,
        base_model=v1.base_model,
        dataset_version=v1.dataset_version,
        config=v1.config,
        actor="test",
    )
    registry.transition(v2.id, "evaluating", actor="test", reason="trained", artifact_path=v1.artifact_path)
    registry.transition(v2.id, "staged", actor="test", reason="gate passed", evaluation=v1.evaluation)
    _ia, _ib, a, b = _demo_pairs(checkout, 1)[0]
    assert _predict(client, a, b)["model_version_id"] == v1.id

    stale = client.post(
        f"/api/models/{v2.id}/promote", json={"reason": "r", "expected_active_id": v2.id}, headers=AUTH
    )
    assert stale.status_code == 409 and "active" in stale.json()["detail"], (
        "a stale expectation changes nothing"
    )
    promoted = client.post(
        f"/api/models/{v2.id}/promote", json={"reason": "better", "expected_active_id": v1.id}, headers=AUTH
    )
    assert promoted.status_code == 200 and promoted.json()["state"] == "active"
    assert _wait_for_version(client, (a, b), v2.id) < 5

    rolled = client.post(f"/api/models/{v2.id}/rollback", json={"reason": "worse live"}, headers=AUTH)
    assert rolled.status_code == 200 and rolled.json()["id"] == v1.id
    assert _wait_for_version(client, (a, b), v1.id) < 5
    events = client.get(f"/api/models/{v2.id}").json()["events"]
    assert [(e["event"], e["actor"]) for e in events][-2:] == [("promote", "api"), ("rollback", "api")]


def test_live_accuracy_is_reported_once_the_humans_decisions_for_logged_pairs_are_imported(served):
    client, checkout = served
    pairs = _demo_pairs(checkout, 6)
    version = _active(client, "dedup")["id"]
    predicted = [_predict(client, a, b) for _ia, _ib, a, b in pairs]
    before = client.get(f"/api/models/{version}/live").json()
    decisions = checkout / "decisions.csv"
    with decisions.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text_a", "text_b", "label"])
        for n, (_ia, _ib, a, b) in enumerate(pairs):
            writer.writerow([a, b, n % 2])  # the humans' decisions: every other pair merges
    fta(checkout, "import", "pairs", str(decisions), "--reviewer", "qa")
    live = client.get(f"/api/models/{version}/live").json()
    assert live["with_outcome"] - before["with_outcome"] >= len(pairs)
    right = sum(p["label"] == ("merge" if n % 2 else "separate") for n, p in enumerate(predicted))
    assert live["correct"] - before["correct"] >= right
    assert live["accuracy"] is not None and 0.0 <= live["accuracy"] <= 1.0
    assert all(m["prediction"] != m["actual"] for m in live["misclassifications"])
    printed = fta(checkout, "models", "live-accuracy", "--task", "dedup").stdout
    assert "accuracy" in printed and "override rate" in printed


def test_a_new_insight_is_checked_against_every_stored_one(served):
    client, checkout = served
    store = FeedbackStore(open_database(f"sqlite:///{checkout / '.fta' / 'fta.sqlite'}"))
    insight = store.pending().insights[0]
    answer = client.post("/api/insights/check", json={"text": insight.statement, "save": False}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    check = answer.json()
    twin = [c for c in check["candidates"] if c["insight_id"] == insight.id]
    assert twin and twin[0]["similarity"] > 0.99, "the stored twin is among the candidates"
    assert check["best_match"]["probability"] >= twin[0]["probability"]
    assert check["fallback_reason"] is None and check["stored"] is False
    new = client.post(
        "/api/insights/check", json={"text": "A new claim: " + insight.statement.lower()}, headers=AUTH
    ).json()
    assert new["stored"] is True and store.insights([new["insight_id"]])
    done = json.loads(fta(checkout, "check-insight", insight.statement, "--dry-run", "--json").stdout)
    assert insight.id in {c["insight_id"] for c in done["candidates"]} and done["stored"] is False


def test_a_training_run_started_through_the_api_runs_in_the_dagster_instance(served):
    client, _ = served
    started = client.post("/api/runs", json={"task": "retrieval", "job": "data_prep"}, headers=AUTH)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 600
    status = None
    while time.monotonic() < deadline:
        status = client.get(f"/api/runs/{run_id}").json()
        if status["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status and status["status"] == "SUCCESS", status
    assert status["job_name"] == "retrieval_data_prep"
