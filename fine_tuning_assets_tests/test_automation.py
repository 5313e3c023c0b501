from __future__ import annotations

from dataclasses import replace

import pytest
from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from fine_tuning_assets.core.database import open_database
from fine_tuning_assets.definitions import build_definitions
from fine_tuning_assets.tasks.dedup.store import FeedbackStore
from fine_tuning_assets_tests.chain_helpers import settings_for, tiny_demo


def resources(definitions):
    return {k: v for k, v in definitions.resources.items() if k in ("feedback_store", "finetuning")}


def test_the_sensor_requests_retraining_only_past_the_threshold(tmp_path):
    settings = settings_for(tmp_path, FINETUNE_RETRAIN_MIN_NEW_DECISIONS="20")
    definitions = build_definitions(settings)
    sensor = definitions.resolve_sensor_def("dedup_new_decisions_sensor")
    store = FeedbackStore(open_database(settings.database_url))
    with instance_for_test() as instance:
        store.add_decisions(tiny_demo(10), kind="test", source="tiny")
        with build_sensor_context(instance=instance, resources=resources(definitions)) as context:
            skipped = sensor(context)
        assert isinstance(skipped, SkipReason) and "10 new decisions" in skipped.skip_message
        more = tiny_demo(40)
        store.add_decisions(replace(more, clusters=more.clusters[10:]), kind="test", source="more")
        with build_sensor_context(instance=instance, resources=resources(definitions)) as context:
            request = sensor(context)
        assert isinstance(request, RunRequest) and request.tags["fta/new_decisions"] == "40"
        assert request.run_key.startswith("new_decisions-")


def test_monthly_schedule_skips_without_enough_new_decisions(tmp_path):
    settings = settings_for(tmp_path, FINETUNE_RETRAIN_MIN_NEW_DECISIONS="1000")
    definitions = build_definitions(settings)
    FeedbackStore(open_database(settings.database_url)).add_decisions(
        tiny_demo(10), kind="test", source="tiny"
    )
    schedule = definitions.resolve_schedule_def("monthly_dedup_retraining")
    with instance_for_test() as instance:
        with build_schedule_context(instance=instance, resources=resources(definitions)) as context:
            result = schedule(context)
    assert isinstance(result, SkipReason) and "retraining needs 1000" in result.skip_message


@pytest.mark.parametrize(
    ("mode", "weekly", "monthly"),
    [("weekly", True, True), ("monthly", False, True), ("manual", False, False)],
)
def test_finetune_schedule_switches_the_schedules(tmp_path, mode, weekly, monthly):
    definitions = build_definitions(settings_for(tmp_path, FINETUNE_SCHEDULE=mode))
    running = DefaultScheduleStatus.RUNNING
    data_prep = definitions.resolve_schedule_def("weekly_dedup_data_prep")
    retraining = definitions.resolve_schedule_def("monthly_dedup_retraining")
    assert (data_prep.default_status == running) is weekly
    assert (retraining.default_status == running) is monthly
    assert (data_prep.cron_schedule, retraining.cron_schedule) == ("0 2 * * 0", "0 2 1 * *")


def test_finetune_enabled_false_stops_all_automation(tmp_path):
    definitions = build_definitions(settings_for(tmp_path, FINETUNE_ENABLED="false"))
    retraining = definitions.resolve_schedule_def("monthly_dedup_retraining")
    sensor = definitions.resolve_sensor_def("dedup_new_decisions_sensor")
    assert retraining.default_status == DefaultScheduleStatus.STOPPED
    assert sensor.default_status.value == "STOPPED"


def test_weekly_data_prep_does_not_reset_the_count_of_new_decisions(tmp_path):
    settings = settings_for(tmp_path, FINETUNE_RETRAIN_MIN_NEW_DECISIONS="20")
    definitions = build_definitions(settings)
    FeedbackStore(open_database(settings.database_url)).add_decisions(
        tiny_demo(40), kind="test", source="tiny"
    )
    with instance_for_test() as instance:
        data_prep = definitions.resolve_job_def("dedup_data_prep").execute_in_process(instance=instance)
        assert data_prep.success
        sensor = definitions.resolve_sensor_def("dedup_new_decisions_sensor")
        with build_sensor_context(instance=instance, resources=resources(definitions)) as context:
            request = sensor(context)
    assert isinstance(request, RunRequest) and request.tags["fta/new_decisions"] == "40"
