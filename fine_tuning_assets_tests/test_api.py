"""The HTTP API in-process (FastAPI's TestClient) over a small store with no trained model: the contract,
auth, bad requests that change nothing, the prediction log and the ingestion check; then schemathesis
against the OpenAPI spec. A real server with trained models: test_api_server.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
import sqlalchemy as sa
from chain_helpers import tiny_demo
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from fine_tuning_assets.api.app import create_app
from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.core.database import model_predictions, open_database
from fine_tuning_assets.tasks.dedup.records import ClusterMember, DecisionBatch, Insight, MergeCluster
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets.tasks.retrieval.records import Document, RetrievalBatch
from fine_tuning_assets.tasks.retrieval.store import RetrievalStore

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STATEMENTS = [
    "Vitamin D supplements lower fracture risk in adults over 65.",
    "In people older than 65, vitamin D supplementation reduces fractures.",
    "Statins lower LDL cholesterol in adults with diabetes.",
    "Daily aspirin raises the risk of gastrointestinal bleeding.",
    "Regular exercise improves sleep quality in older adults.",
]


def _seed(home) -> Settings:
    settings = Settings.from_env({"FTA_HOME": str(home), "FINETUNE_MIN_EXAMPLES": "1"})
    engine = open_database(settings.database_url)
    insights = tuple(Insight(f"i{n}", s) for n, s in enumerate(STATEMENTS))
    decided = MergeCluster(
        "c1",
        "approved",
        "ana",
        datetime(2026, 1, 5, tzinfo=UTC),
        (ClusterMember("i0", 0.9, True), ClusterMember("i1", 0.9, True), ClusterMember("i2", 0.5, False)),
    )
    pending = MergeCluster(
        "p1", "pending", None, None, (ClusterMember("i3", None, False), ClusterMember("i4", None, False))
    )
    store = FeedbackStore(engine)
    store.add_decisions(tiny_demo(40), kind="demo", source="test")  # enough decisions to split and export
    store.add_decisions(DecisionBatch(insights, (decided, pending)), kind="test", source="test")
    RetrievalStore(engine).add(
        RetrievalBatch(
            documents=(
                Document("d1", "Exporting notes", "Open a note, choose Export and pick PDF or Markdown."),
                Document("d2", "Sharing a notebook", "Invite people by email from the Share menu."),
            )
        ),
        source="test",
    )
    return settings


@pytest.fixture(scope="module")
def settings_(tmp_path_factory) -> Settings:
    return _seed(tmp_path_factory.mktemp("api") / "fta")


@pytest.fixture(scope="module")
def client(settings_):
    with TestClient(create_app(settings_, api_token=TOKEN)) as test_client:
        yield test_client


def _logged(settings_: Settings) -> int:
    with open_database(settings_.database_url).connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(model_predictions)).scalar_one()


def test_a_pair_prediction_says_the_base_model_answered_and_is_logged(client, settings_):
    before = _logged(settings_)
    answer = client.post("/api/dedup/predict", json={"text_a": STATEMENTS[0], "text_b": STATEMENTS[1]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["fallback_reason"] == "no dedup model is active" and body["model_version_id"] is None
    assert body["band"] != "auto_merge" and body["label"] in ("merge", "separate")
    assert _logged(settings_) == before + 1 and isinstance(body["prediction_id"], int)
    again = client.post("/api/dedup/predict", json={"text_a": STATEMENTS[0], "text_b": STATEMENTS[1]}).json()
    assert again["cached"] is True and again["probability"] == body["probability"]


def test_a_batch_is_scored_as_single_pairs_are(client):
    pairs = [{"text_a": STATEMENTS[0], "text_b": s} for s in STATEMENTS[1:]]
    batch = client.post("/api/dedup/predict/batch", json={"pairs": pairs}).json()
    singles = [client.post("/api/dedup/predict", json=p).json()["probability"] for p in pairs]
    assert [p["probability"] for p in batch["predictions"]] == pytest.approx(singles, abs=1e-6)


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/dedup/predict", {"text_a": "", "text_b": "x"}, "at least 1 character"),
        ("/api/dedup/predict", {"text_a": "x"}, "Field required"),
        ("/api/dedup/predict", {"text_a": "x", "text_b": "y", "surprise": 1}, "Extra inputs"),
        ("/api/dedup/predict/batch", {"pairs": []}, "at least 1 item"),
        ("/api/retrieval/rank", {"query": "x", "top_k": 0}, "greater than or equal to 1"),
    ],
)
def test_a_body_that_breaks_the_contract_is_a_422_naming_the_field(client, settings_, path, body, fragment):
    before = _logged(settings_)
    answer = client.post(path, json=body)
    assert answer.status_code == 422 and fragment in answer.text
    assert _logged(settings_) == before


def test_a_whitespace_statement_is_a_400_and_nothing_is_logged(client, settings_):
    before = _logged(settings_)
    answer = client.post("/api/dedup/predict", json={"text_a": "   ", "text_b": "x"})
    assert answer.status_code == 400 and "non-empty" in answer.json()["detail"]
    assert _logged(settings_) == before


def test_admin_endpoints_need_the_token(client):
    decision = {"status": "rejected", "reviewer": "ana"}
    missing = client.post("/api/dedup/clusters/p1/decision", json=decision)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = client.post(
        "/api/dedup/clusters/p1/decision", json=decision, headers={"Authorization": "Bearer no"}
    )
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    assert client.get("/api/dedup/clusters/p1").json()["status"] == "pending", "nothing changed"
    for method, path in [
        ("post", "/api/runs"),
        ("get", "/api/tasks/dedup/training-data"),
        ("post", "/api/models/1/promote"),
        ("post", "/api/insights/check"),
        ("post", "/api/retrieval/ratings"),
    ]:
        assert getattr(client, method)(path).status_code == 401, path


def test_without_a_configured_token_admin_endpoints_are_refused_not_open(settings_):
    with TestClient(create_app(settings_, api_token=None)) as open_client:
        answer = open_client.post(
            "/api/dedup/clusters/p1/decision", json={"status": "rejected", "reviewer": "x"}, headers=AUTH
        )
        assert answer.status_code == 403 and "FTA_API_TOKEN" in answer.json()["detail"]
        assert open_client.get("/api/health").status_code == 200


def test_unknown_ids_are_404_and_conflicts_409(client):
    assert client.get("/api/models/999").status_code == 404
    promote = client.post("/api/models/999/promote", json={"reason": "x"}, headers=AUTH)
    assert promote.status_code == 404 and "no model version with id 999" in promote.json()["detail"]
    assert client.get("/api/dedup/clusters/nope").status_code == 404
    assert client.get("/api/tasks/sentiment/training-data", headers=AUTH).status_code == 404
    decided = client.post(
        "/api/dedup/clusters/c1/decision", json={"status": "rejected", "reviewer": "bo"}, headers=AUTH
    )
    assert decided.status_code == 400 and "already approved" in decided.json()["detail"]


def test_a_run_of_an_unknown_job_or_with_a_bad_config_is_refused_before_anything_starts(client, settings_):
    assert client.post("/api/runs", json={"task": "sentiment"}, headers=AUTH).status_code == 404
    bad = client.post(
        "/api/runs", json={"task": "dedup", "run_config": {"ops": {"no_such_step": {}}}}, headers=AUTH
    )
    assert bad.status_code == 400 and "run config of dedup_chain is not valid" in bad.json()["detail"]
    assert not (settings_.home / "runs").exists() or not list((settings_.home / "runs").iterdir())
    # This app has no Dagster instance (DAGSTER_HOME unset): following a run says so.
    assert client.get("/api/runs/not-a-run").status_code == 422, "a run id is a UUID (it names a log file)"
    unavailable = client.get("/api/runs/00000000-0000-0000-0000-000000000000")
    assert unavailable.status_code == 503 and "Dagster instance" in unavailable.json()["detail"]


def test_checking_a_new_insight_stores_it_and_asks_a_reviewer_when_unsure(client, settings_):
    text = "Older adults who take vitamin D break fewer bones."
    answer = client.post("/api/insights/check", json={"text": text, "k": 3}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    check = answer.json()
    assert check["best_match"]["insight_id"] in ("i0", "i1") and len(check["candidates"]) == 3
    assert check["stored"] is True and check["fallback_reason"] == "no dedup model is active"
    store = FeedbackStore(open_database(settings_.database_url))
    assert store.insights([check["insight_id"]])[check["insight_id"]].statement == text
    if check["cluster_id"]:
        cluster = client.get(f"/api/dedup/clusters/{check['cluster_id']}").json()
        assert cluster["status"] == "pending" and cluster["priority"] == check["cluster_priority"]
        assert check["insight_id"] in {m["insight_id"] for m in cluster["members"]}
    # Sending it again stores nothing new; a dry run stores nothing at all.
    again = client.post("/api/insights/check", json={"text": text}, headers=AUTH).json()
    assert again["stored"] is False and again["cluster_id"] is None and again["notes"]
    dry = client.post(
        "/api/insights/check", json={"text": "Brand new claim.", "save": False}, headers=AUTH
    ).json()
    assert dry["stored"] is False and not store.insights([dry["insight_id"]])


def test_a_decision_recorded_through_the_api_becomes_the_outcome_of_the_logged_prediction(client, settings_):
    pair = {"text_a": STATEMENTS[3], "text_b": STATEMENTS[4], "insight_a_id": "i3", "insight_b_id": "i4"}
    predicted = client.post("/api/dedup/predict", json=pair).json()
    decided = client.post(
        "/api/dedup/clusters/p1/decision", json={"status": "rejected", "reviewer": "ana"}, headers=AUTH
    )
    assert decided.status_code == 200 and decided.json()["status"] == "rejected"
    with open_database(settings_.database_url).connect() as connection:
        actual = connection.execute(
            sa.select(model_predictions.c.actual).where(model_predictions.c.id == predicted["prediction_id"])
        ).scalar_one()
    assert actual == "separate"


def test_rank_and_a_rating_recorded_through_the_api(client):
    ranked = client.post(
        "/api/retrieval/rank", json={"query": "how do I export a note as PDF", "top_k": 2}
    ).json()
    assert (
        ranked["results"][0]["document_id"] == "d1"
        and ranked["fallback_reason"] == "no retrieval model is active"
    )
    assert len(ranked["prediction_ids"]) == 2
    rating = {"query": "how do I export a note as PDF", "document_id": "d1", "relevant": True, "user": "u1"}
    assert client.post("/api/retrieval/ratings", json=rating, headers=AUTH).json() == {
        "new": 1,
        "already_present": 0,
        "changed": 0,
    }
    assert client.post("/api/retrieval/ratings", json=rating, headers=AUTH).json()["already_present"] == 1
    unknown = client.post("/api/retrieval/ratings", json={**rating, "document_id": "nope"}, headers=AUTH)
    assert unknown.status_code == 400 and "'nope'" in unknown.json()["detail"]


def test_training_data_export_as_openai_jsonl_json_and_stats(client):
    jsonl = client.get("/api/tasks/dedup/training-data?format=openai_jsonl", headers=AUTH)
    assert jsonl.status_code == 200 and jsonl.headers["content-type"].startswith("application/jsonl")
    lines = [line for line in jsonl.text.splitlines() if line]
    assert lines and all('"messages"' in line for line in lines)
    stats = client.get("/api/tasks/dedup/training-data?stats=true", headers=AUTH).json()
    assert stats["records"] == len(lines) and stats["dataset_version"] is None and "total" in stats["stats"]
    records = client.get("/api/tasks/dedup/training-data?format=json&split=nope", headers=AUTH)
    assert records.status_code == 400 and "unknown split" in records.json()["detail"]
    missing = client.get("/api/tasks/dedup/training-data?dataset_version=ds-nope", headers=AUTH)
    assert missing.status_code in (400, 404, 409) and "ds-nope" in missing.json()["detail"]


def test_model_status_lists_every_task_and_what_is_loaded(client):
    client.post("/api/dedup/predict", json={"text_a": "a b", "text_b": "c d"})
    status = {s["task"]: s for s in client.get("/api/models/status").json()}
    assert set(status) == {"dedup", "retrieval", "triage", "signals"} and status["dedup"]["active"] is None
    assert status["dedup"]["serving"]["fallback_reason"] == "no dedup model is active"


# -- schemathesis: every operation of the OpenAPI spec, generated requests ------------------------------
def test_the_api_honours_its_openapi_spec(settings_, tmp_path, monkeypatch):
    """No 5xx, and every answer matches its documented schema, for requests generated from the spec of every
    operation (but starting a run: a valid request starts a real training run; test_api_server.py starts
    one)."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # an instance for following runs
    app = create_app(settings_, api_token=TOKEN)
    with TestClient(app):  # runs the app's startup
        spec = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in spec.get_all_operations()]
        tested = []
        for operation in operations:
            if (operation.method.upper(), operation.path) == ("POST", "/api/runs"):
                continue

            @given(case=operation.as_strategy())
            @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def honours_the_spec(case):
                case.headers = {**(case.headers or {}), **AUTH}
                case.call_and_validate(
                    checks=[
                        schemathesis.checks.not_a_server_error,
                        schemathesis.checks.response_schema_conformance,
                    ]
                )

            honours_the_spec()
            tested.append(f"{operation.method.upper()} {operation.path}")
    assert len(tested) >= 15, tested
