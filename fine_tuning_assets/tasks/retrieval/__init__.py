"""The retrieval task: people rate retrieved documents for their queries, and an archive of articles (title →
text) gives free positives; the project learns the embedding and reranker of a RAG system's ranking."""

TASK = "retrieval"
