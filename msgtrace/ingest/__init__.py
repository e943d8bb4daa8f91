"""msgtrace.ingest."""
