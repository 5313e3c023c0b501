"""The triage and signals endpoints in-process: the contract, the base-model fallback (never applied without
a human), the prediction log, and bodies that break the contract."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fine_tuning_assets.api.app import create_app
from fine_tuning_assets.core.config import Settings
from fine_tuning_assets.core.database import model_predictions, open_database
from fine_tuning_assets.tasks.triage.demo import generate_demo_triage
from fine_tuning_assets.tasks.triage.store import TriageStore


@pytest.fixture(scope="module")
def settings_(tmp_path_factory) -> Settings:
    settings = Settings.from_env({"FTA_HOME": str(tmp_path_factory.mktemp("api") / "fta")})
    TriageStore(open_database(settings.database_url)).add(generate_demo_triage(n_reviews=60), source="test")
    return settings


@pytest.fixture(scope="module")
def client(settings_):
    with TestClient(create_app(settings_, api_token="t")) as test_client:
        yield test_client


def _logged(settings_: Settings, task: str) -> int:
    with open_database(settings_.database_url).connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(model_predictions).where(model_predictions.c.task == task)
        ).scalar_one()


def test_triage_without_a_model_falls_back_to_zero_shot_over_the_stores_labels_and_is_logged(
    client, settings_
):
    labels = TriageStore(open_database(settings_.database_url)).label_sets()
    body = {
        "reviews": [
            {"text": "The app crashes every time I open it", "rating": 1},
            {"text": "Please add a dark mode"},
        ]
    }
    answer = client.post("/api/triage/predict", json=body)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 2
    for p in predictions:
        assert p["fallback_reason"] == "no triage model is active" and p["model_version_id"] is None
        assert set(p["fields"]) == {"category", "urgency", "topic"}
        for field, f in p["fields"].items():
            assert f["label"] in labels[field] and f["band"] == "needs_review"
            assert sum(f["probabilities"].values()) == pytest.approx(1.0)
    assert _logged(settings_, "triage") == 2
    again = client.post("/api/triage/predict", json=body).json()["predictions"]
    assert [p["cached"] for p in again] == [True, True]


def test_signals_scores_chunks_by_the_base_model_until_a_model_is_trained(client, settings_):
    before = _logged(settings_, "signals")
    answer = client.post(
        "/api/signals/score", json={"chunks": [{"text": "Three concrete steps to cut your cloud bill"}]}
    )
    assert answer.status_code == 200, answer.text
    [p] = answer.json()["predictions"]
    assert p["fields"]["action"]["label"] in ("saved", "skipped") and p["fallback_reason"]
    assert _logged(settings_, "signals") == before + 1


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/triage/predict", {"reviews": []}, "at least 1 item"),
        ("/api/triage/predict", {"reviews": [{"text": ""}]}, "at least 1 character"),
        ("/api/triage/predict", {"reviews": [{"text": "x", "rating": 11}]}, "less than or equal to 10"),
        ("/api/triage/predict", {"reviews": [{"text": "x", "stars": 3}]}, "Extra inputs"),
        ("/api/signals/score", {"chunks": [{}]}, "Field required"),
    ],
)
def test_a_body_that_breaks_the_contract_is_a_422_and_nothing_is_logged(
    client, settings_, path, body, fragment
):
    before = _logged(settings_, "triage") + _logged(settings_, "signals")
    answer = client.post(path, json=body)
    assert answer.status_code == 422 and fragment in answer.text
    assert _logged(settings_, "triage") + _logged(settings_, "signals") == before


def test_a_correction_recorded_later_becomes_the_outcome_of_the_served_triage(client, settings_):
    from fine_tuning_assets.tasks.triage.records import TriageCorrection

    text = "Login keeps failing after the update"
    [served] = client.post("/api/triage/predict", json={"reviews": [{"text": text}]}).json()["predictions"]
    store = TriageStore(open_database(settings_.database_url))
    category = next(
        label for label in store.label_sets()["category"] if label != served["fields"]["category"]["label"]
    )
    store.record_correction(
        TriageCorrection(
            "api-r1", "  login keeps failing after the UPDATE ", corrected={"category": category}
        ),
        actor="ana",
    )
    with open_database(settings_.database_url).connect() as connection:
        actual = connection.execute(
            sa.select(model_predictions.c.actual).where(model_predictions.c.id == served["prediction_id"])
        ).scalar_one()
    assert actual == category
