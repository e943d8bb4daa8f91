"""msgtrace.segments."""
