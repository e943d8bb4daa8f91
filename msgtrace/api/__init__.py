"""msgtrace.api."""
