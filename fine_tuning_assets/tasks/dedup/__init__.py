"""The dedup task: reviewers approve or reject proposed merges of near-duplicate insights; the project learns a
calibrated pair model that decides new pairs (auto-merge, review, keep separate). The task object is
:data:`fine_tuning_assets.tasks.dedup.task.DEDUP`."""

TASK = "dedup"
