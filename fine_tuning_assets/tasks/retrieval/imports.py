"""Parse an archive of documents and people's relevance judgements from CSV, JSON Lines or a BEIR folder.

Files are read by the shared machinery of :mod:`fine_tuning_assets.core.imports` (formats, line numbers,
value parsers): an import is all or nothing, and a bad file raises one
:class:`~fine_tuning_assets.core.imports.ImportFileError` listing every problem with its line number.

* :func:`read_documents`: one document per row (``id,title,text`` plus optional ``source``,
  ``published_at`` and any other columns, kept as metadata). BEIR's ``corpus.jsonl`` (``_id``) reads as is.
* :func:`read_retrieval_feedback`: one judgement per row (``query,document_id,label``, plus optional
  ``user`` and ``rated_at``). The label is a flag or a graded rating. A row may instead carry the document
  text inline (``document_field``, e.g. answer-selection data shared as ``question,label,answer``): the
  document is then created with an id derived from its text.
* :func:`read_beir`: a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``).

Whether a judged document exists in the store is checked by the store when the batch is added.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fine_tuning_assets.core.imports import (
    FALSE_WORDS,
    TRUE_WORDS,
    ImportFileError,
    RowError,
    ValueProblem,
    content_digest,
    detect_file_format,
    is_missing,
    json_type,
    missing_columns,
    normalise_whitespace,
    parse_flag,
    parse_identifier,
    parse_number,
    parse_optional,
    parse_string,
    parse_timestamp,
    read_records,
    require_distinct_columns,
    shorten,
    to_utc,
)
from fine_tuning_assets.tasks.retrieval.records import (
    Document,
    Judgement,
    RetrievalBatch,
    document_content_sha256,
    normalise_query,
)

__all__ = [
    "BEIR_QRELS_HEADER",
    "RELEVANT_WORDS",
    "IRRELEVANT_WORDS",
    "read_beir",
    "read_documents",
    "read_retrieval_feedback",
]

#: Label words read as a flag (case-insensitive), besides JSON booleans.
RELEVANT_WORDS: frozenset[str] = (TRUE_WORDS - {"1"}) | {"relevant"}
IRRELEVANT_WORDS: frozenset[str] = (FALSE_WORDS - {"0"}) | {"irrelevant", "not relevant", "not_relevant"}

#: The header of a BEIR qrels file.
BEIR_QRELS_HEADER: tuple[str, ...] = ("query-id", "corpus-id", "score")

_MAX_USER_LENGTH = 200
_MAX_SOURCE_LENGTH = 500
_INLINE_ID_DIGITS = 16


# -- documents ----------------------------------------------------------------------------------------------
def read_documents(
    path: str | os.PathLike[str],
    *,
    id_field: str = "id",
    title_field: str = "title",
    text_field: str = "text",
    source_field: str = "source",
    published_at_field: str = "published_at",
    file_format: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
) -> RetrievalBatch:
    """The documents of a CSV or JSON Lines file, one per row, as a batch without judgements.

    ``id_field`` and ``text_field`` are required; when ``id_field`` is ``"id"`` and the file has no ``id``
    but an ``_id`` column (BEIR's ``corpus.jsonl``), ``_id`` is the id. ``title_field``, ``source_field``
    and ``published_at_field`` (ISO 8601; naive = UTC) are optional (a missing or empty title is None).
    Every other non-empty column goes into ``Document.metadata`` (strings from CSV, JSON values from JSON
    Lines; a JSON ``metadata`` object is merged in). Ids and titles are stripped; the text is kept as
    written, less surrounding whitespace.

    Row errors: an empty or too long id (over 200 characters), an empty or non-string text, a bad
    ``published_at``, a source over 500 characters. A row repeating an earlier row's id with the same
    content is listed in ``RetrievalBatch.duplicates`` (stored once); with other content it is an error
    naming the earlier line.
    """
    require_distinct_columns(
        id_field=id_field,
        title_field=title_field,
        text_field=text_field,
        source_field=source_field,
        published_at_field=published_at_field,
    )
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt, has_header=has_header, column_names=column_names))
    if id_field == "id" and not any("id" in record for _, record in records):
        if any("_id" in record for _, record in records):
            id_field = "_id"
    missing = missing_columns(fmt, records, (id_field, text_field), has_header=has_header)
    if missing is not None:
        raise ImportFileError(path, [missing])
    known = {id_field, title_field, text_field, source_field, published_at_field}
    errors: list[RowError] = []
    found: dict[str, tuple[Document, int]] = {}
    duplicates: list[str] = []
    for line, record in records:
        document = _document_row(
            line,
            record,
            errors,
            known=known,
            id_field=id_field,
            text_field=text_field,
            title_field=title_field,
            source_field=source_field,
            published_at_field=published_at_field,
        )
        if document is None:
            continue
        if document.id in found:
            earlier, earlier_line = found[document.id]
            if document_content_sha256(earlier) == document_content_sha256(document):
                duplicates.append(f"{path}:{line}: the same document as line {earlier_line}; stored once")
            else:
                errors.append(
                    RowError(line, f"document {document.id!r} has other content than on line {earlier_line}")
                )
            continue
        found[document.id] = (document, line)
    if errors:
        raise ImportFileError(path, errors)
    return RetrievalBatch(
        documents=tuple(document for document, _ in found.values()), duplicates=tuple(duplicates)
    )


def _document_row(
    line: int,
    record: dict[str, Any],
    errors: list[RowError],
    *,
    known: set[str],
    id_field: str,
    text_field: str,
    title_field: str,
    source_field: str,
    published_at_field: str,
) -> Document | None:
    before = len(errors)
    document_id = None
    if is_missing(record.get(id_field)):
        errors.append(RowError(line, f"the document id ({id_field}) is missing"))
    else:
        document_id = parse_optional(line, record, id_field, parse_identifier, errors)
    text = _text(line, record, text_field, errors, what="the document text")
    title = parse_optional(line, record, title_field, parse_string, errors)
    source = parse_optional(line, record, source_field, parse_string, errors)
    if isinstance(source, str) and len(source) > _MAX_SOURCE_LENGTH:
        errors.append(RowError(line, f"{source_field} is longer than {_MAX_SOURCE_LENGTH} characters"))
    published_at = parse_optional(line, record, published_at_field, parse_timestamp, errors)
    metadata: dict[str, Any] = {}
    for name, value in record.items():
        if name in known or is_missing(value):
            continue
        if name == "metadata" and isinstance(value, dict):
            metadata.update({key: item for key, item in value.items() if not is_missing(item)})
        else:
            metadata[name] = value
    if len(errors) > before or document_id is None or text is None:
        return None
    return Document(
        id=document_id,
        title=title or None,
        text=text,
        source=source or None,
        published_at=published_at,
        metadata=metadata,
    )


def _text(line: int, record: dict[str, Any], name: str, errors: list[RowError], *, what: str) -> str | None:
    value = record.get(name)
    if not isinstance(value, str | None):
        errors.append(RowError(line, f"{what} ({name}) must be a string, got {json_type(value)}"))
        return None
    if is_missing(value):
        errors.append(RowError(line, f"{what} ({name}) is empty"))
        return None
    return value.strip()


# -- judgements ---------------------------------------------------------------------------------------------
def _label(value: Any, name: str, relevant_at: float) -> tuple[float | None, bool]:
    """``(rating, relevant)`` of a label: a JSON boolean or a flag word gives no rating; a number is a
    graded rating, relevant when it reaches ``relevant_at``."""
    if isinstance(value, bool):
        return None, value
    rating = parse_number(value)
    if rating is not None:
        return rating, rating >= relevant_at
    if isinstance(value, str):
        try:
            return None, parse_flag(value, name, true_words=RELEVANT_WORDS, false_words=IRRELEVANT_WORDS)
        except ValueProblem:
            pass
    words = ", ".join(sorted(RELEVANT_WORDS)) + " / " + ", ".join(sorted(IRRELEVANT_WORDS))
    shown = repr(value.strip()) if isinstance(value, str) else json_type(value)
    raise ValueProblem(f"{name} {shown} is neither a number (a graded rating) nor a flag ({words})")


def read_retrieval_feedback(
    path: str | os.PathLike[str],
    *,
    query_field: str = "query",
    document_field: str | None = None,
    document_id_field: str = "document_id",
    label_field: str = "label",
    user_field: str = "user",
    rated_at_field: str = "rated_at",
    relevant_at: float = 1.0,
    user: str | None = None,
    rated_at: datetime | None = None,
    id_prefix: str = "doc",
    file_format: str | None = None,
    has_header: bool = True,
    column_names: Sequence[str] | None = None,
) -> RetrievalBatch:
    """The judgements of a CSV or JSON Lines file, one per row (and, with ``document_field``, the documents
    they carry inline).

    Each row names a query (``query_field``), a document and a label (``label_field``):

    * The label is a flag — a JSON boolean or one of ``relevant/irrelevant``, ``yes/no``, ``true/false``,
      ``not relevant`` (any case) — stored with no rating; or a number — a graded rating, stored as given
      and relevant when it is ``>= relevant_at`` (so ``1``/``0`` with the default ``relevant_at=1.0`` are
      ratings 1.0 and 0.0, relevant and not).
    * The document is the row's ``document_id_field``; with ``document_field`` the row carries the document
      text instead and the document is created: its id is the row's ``document_id_field`` when the file has
      one and the row a value, else ``f"{id_prefix}-{sha1(normalised text)[:16]}"`` — the same text gives
      the same id in every file and order. An inline text is stored whitespace-normalised (so that the
      same text is one document) and has no title.
    * ``user_field`` (optional column) names who judged, else ``user``; ``rated_at_field`` (optional, ISO
      8601, naive = UTC) when, else ``rated_at`` (the file's modification time is never used: it would
      make a re-exported file's judgements new ones).

    The query is stored whitespace-normalised. A row that repeats an earlier row's judgement (same
    fingerprint) is listed in ``RetrievalBatch.duplicates`` and stored once. Row errors: an empty query,
    document id or inline text; a label neither a number nor a flag; a bad ``rated_at``; a user over 200
    characters; one inline document id with two texts. Missing columns are one error. Bad arguments raise
    ValueError before the file is read.
    """
    require_distinct_columns(
        query_field=query_field,
        document_field=document_field,
        document_id_field=document_id_field,
        label_field=label_field,
        user_field=user_field,
        rated_at_field=rated_at_field,
    )
    if parse_number(relevant_at) is None:
        raise ValueError(f"relevant_at must be a finite number, got {relevant_at!r}")
    if user is not None and (not user.strip() or len(user.strip()) > _MAX_USER_LENGTH or "\x00" in user):
        raise ValueError(f"user must be a non-empty name of at most {_MAX_USER_LENGTH} characters")
    if not id_prefix or id_prefix != id_prefix.strip() or len(id_prefix) > 200 - _INLINE_ID_DIGITS - 1:
        raise ValueError(f"id_prefix {id_prefix!r} must be non-empty, without surrounding whitespace")
    default_user = user.strip() if user is not None else None
    default_time = to_utc(rated_at) if rated_at is not None else None
    fmt = detect_file_format(path, file_format)
    records = list(read_records(path, file_format=fmt, has_header=has_header, column_names=column_names))
    document_column = document_field if document_field is not None else document_id_field
    missing = missing_columns(
        fmt, records, (query_field, document_column, label_field), has_header=has_header
    )
    if missing is not None:
        raise ImportFileError(path, [missing])

    errors: list[RowError] = []
    inline: dict[str, tuple[Document, int]] = {}
    judgements: dict[str, tuple[Judgement, int]] = {}
    duplicates: list[str] = []
    for line, record in records:
        before = len(errors)
        query = _text(line, record, query_field, errors, what="the query")
        document_id: str | None = None
        document: Document | None = None
        if document_field is not None:
            text = _text(line, record, document_field, errors, what="the document text")
            given_id = parse_optional(line, record, document_id_field, parse_identifier, errors)
            if text is not None:
                text = normalise_whitespace(text)
                document_id = given_id or f"{id_prefix}-{content_digest(text, _INLINE_ID_DIGITS)}"
                document = Document(id=document_id, title=None, text=text)
        elif is_missing(record.get(document_id_field)):
            errors.append(RowError(line, f"the document id ({document_id_field}) is missing"))
        else:
            document_id = parse_optional(line, record, document_id_field, parse_identifier, errors)
        rating: float | None = None
        relevant: bool | None = None
        if is_missing(record.get(label_field)):
            errors.append(RowError(line, f"the label ({label_field}) is missing"))
        else:
            try:
                rating, relevant = _label(record[label_field], label_field, relevant_at)
            except ValueProblem as exc:
                errors.append(RowError(line, str(exc)))
        row_user = parse_optional(line, record, user_field, parse_string, errors) or default_user
        if row_user is not None and len(row_user) > _MAX_USER_LENGTH:
            errors.append(RowError(line, f"{user_field} is longer than {_MAX_USER_LENGTH} characters"))
        row_time = parse_optional(line, record, rated_at_field, parse_timestamp, errors) or default_time
        if len(errors) > before or query is None or document_id is None or relevant is None:
            continue
        if document is not None:
            if document.id in inline and inline[document.id][0].text != document.text:
                errors.append(
                    RowError(
                        line,
                        f"document {document.id!r} has text {shorten(document.text)!r} here but "
                        f"{shorten(inline[document.id][0].text)!r} on line {inline[document.id][1]}",
                    )
                )
                continue
            inline.setdefault(document.id, (document, line))
        judgement = Judgement(
            query=normalise_query(query),
            document_id=document_id,
            rating=rating,
            relevant=relevant,
            user=row_user,
            rated_at=row_time,
        )
        fingerprint = judgement.fingerprint
        if fingerprint in judgements:
            duplicates.append(
                f"{path}:{line}: the same judgement as line {judgements[fingerprint][1]}; stored once"
            )
            continue
        judgements[fingerprint] = (judgement, line)
    if errors:
        raise ImportFileError(path, errors)
    return RetrievalBatch(
        documents=tuple(document for document, _ in inline.values()),
        judgements=tuple(judgement for judgement, _ in judgements.values()),
        duplicates=tuple(duplicates),
    )


# -- BEIR ---------------------------------------------------------------------------------------------------
def read_beir(folder: str | os.PathLike[str]) -> RetrievalBatch:
    """A BEIR dataset folder: ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``,
    ``text``) and ``qrels/*.tsv`` (tab-separated, header ``query-id corpus-id score``).

    Every qrels file's judgements are read (train, dev and test alike: the training set makes its own split
    by query). A judgement's rating is the score, relevant when the score is > 0; the query is the query's
    text (its BEIR id is not kept); no user, no time. A pair judged with the same score in two files is one
    judgement (listed as a duplicate). A qrels line naming a query or document the folder does not have is
    an error, as is a score that is not a number.

    The files are read in order (corpus, queries, qrels) and the first bad file raises its
    :class:`ImportFileError` listing every problem in it; a missing file or folder is an error on the
    folder.
    """
    root = Path(folder)
    corpus, queries_path, qrels_folder = root / "corpus.jsonl", root / "queries.jsonl", root / "qrels"
    if not root.is_dir():
        raise ImportFileError(root, [RowError(0, "is not a folder; a BEIR dataset is a folder")])
    qrels_files = sorted(qrels_folder.glob("*.tsv")) if qrels_folder.is_dir() else []
    absent = [
        name
        for name, present in (
            ("corpus.jsonl", corpus.is_file()),
            ("queries.jsonl", queries_path.is_file()),
            ("qrels/*.tsv", bool(qrels_files)),
        )
        if not present
    ]
    if absent:
        raise ImportFileError(root, [RowError(0, f"is not a BEIR folder: {', '.join(absent)} missing")])
    documents = read_documents(corpus, id_field="_id", file_format="jsonl")
    document_ids = {document.id for document in documents.documents}
    queries = _read_beir_queries(queries_path)

    judgements: dict[str, tuple[Judgement, str]] = {}
    duplicates: list[str] = list(documents.duplicates)
    for qrels in qrels_files:
        records = list(read_records(qrels, file_format="csv", delimiter="\t"))
        errors: list[RowError] = []
        header = list(records[0][1]) if records else []
        if header[:3] != list(BEIR_QRELS_HEADER):
            raise ImportFileError(
                qrels, [RowError(1, f"the header is {header}, expected {' '.join(BEIR_QRELS_HEADER)}")]
            )
        for line, record in records:
            query_id, corpus_id = record["query-id"].strip(), record["corpus-id"].strip()
            score = parse_number(record["score"])
            if query_id not in queries:
                errors.append(RowError(line, f"query-id {query_id!r} is not in queries.jsonl"))
            if corpus_id not in document_ids:
                errors.append(RowError(line, f"corpus-id {corpus_id!r} is not in corpus.jsonl"))
            if score is None:
                errors.append(RowError(line, f"score {record['score'].strip()!r} is not a number"))
            if errors and errors[-1].line == line:
                continue
            judgement = Judgement(
                query=queries[query_id], document_id=corpus_id, rating=score, relevant=score > 0
            )
            where = f"{qrels.relative_to(root)}:{line}"
            fingerprint = judgement.fingerprint
            if fingerprint in judgements:
                duplicates.append(
                    f"{root}/{where}: the same judgement as {judgements[fingerprint][1]}; stored once"
                )
                continue
            judgements[fingerprint] = (judgement, where)
        if errors:
            raise ImportFileError(qrels, errors)
    return RetrievalBatch(
        documents=documents.documents,
        judgements=tuple(judgement for judgement, _ in judgements.values()),
        duplicates=tuple(duplicates),
    )


def _read_beir_queries(path: Path) -> dict[str, str]:
    records = list(read_records(path, file_format="jsonl"))
    missing = missing_columns("jsonl", records, ("_id", "text"))
    if missing is not None:
        raise ImportFileError(path, [missing])
    errors: list[RowError] = []
    queries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, record in records:
        before = len(errors)
        query_id = parse_optional(line, record, "_id", parse_identifier, errors)
        if query_id is None and len(errors) == before:
            errors.append(RowError(line, "the query id (_id) is missing"))
        text = _text(line, record, "text", errors, what="the query")
        if query_id is None or text is None:
            continue
        if query_id in queries and queries[query_id] != normalise_query(text):
            errors.append(
                RowError(line, f"query {query_id!r} has another text on line {first_line[query_id]}")
            )
            continue
        first_line.setdefault(query_id, line)
        queries[query_id] = normalise_query(text)
    if errors:
        raise ImportFileError(path, errors)
    return queries
