"""Serving, task-agnostic: the model cache (hot reload on promotion or rollback), the prediction log with
the humans' later decisions, and the vector index that finds candidates among many texts.

Nothing here knows a task: a task's folder says how to load its predictor and what identifies its items.
"""
