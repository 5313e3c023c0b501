"""Text classifiers learned from people's labels, shared by the classification tasks (``triage``: the fields of
an app review's triage; ``signals``: whether a reader saves a chunk).

* :mod:`.examples`: a labelled text (:class:`~.examples.TextExample`) and the stratified, grouped split;
* :mod:`.model`: the classifier a model version holds (lexical features, embeddings, one calibrated
  linear head per field), saved as arrays and JSON (never pickle) and loaded for serving;
* :mod:`.recipes`: the recipe search per field (TF-IDF + logistic regression, frozen embedding + head,
  SetFit-style contrastive fine-tune + head, and stacks of lexical and embedding features), chosen on
  validation and calibrated;
* :mod:`.evaluation`: per-field metrics, confusion matrices, confidence bands and the promotion gate;
* :mod:`.task`: the :class:`~fine_tuning_assets.core.task.Task` both tasks are, given what differs.
"""
