"""The signals task: readers save, snip or skip the content chunks (podcast transcript passages, ...) a
system surfaces to them; the project learns which chunks are worth surfacing, to beat the surfacing system's
own relevance score."""

TASK = "signals"
