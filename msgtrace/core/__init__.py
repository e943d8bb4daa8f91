"""msgtrace.core."""
