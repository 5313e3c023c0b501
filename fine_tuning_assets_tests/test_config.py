from __future__ import annotations

import pytest

from fine_tuning_assets.core.config import ConfigurationError, Settings


def test_defaults(tmp_path):
    settings = Settings.from_env({"FTA_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'fta.sqlite'}"
    assert (settings.min_examples_per_class, settings.auto_promote, settings.schedule) == (10, True, "weekly")
    assert settings.artifact_root == tmp_path / "artifacts"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FINETUNE_SCHEDULE": "daily"}, "FINETUNE_SCHEDULE='daily' is not one of weekly, monthly, manual"),
        ({"FINETUNE_MIN_EXAMPLES": "ten"}, "FINETUNE_MIN_EXAMPLES='ten' is not a whole number"),
        ({"FINETUNE_MIN_EXAMPLES": "0"}, "must be at least 1"),
        ({"FINETUNE_AUTO_PROMOTE": "perhaps"}, "not a boolean"),
        ({"FINETUNE_PROVIDER": "openai"}, "trains locally only"),
    ],
)
def test_bad_values_are_clear_errors(env, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        Settings.from_env(env)
