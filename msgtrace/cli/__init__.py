"""msgtrace.cli."""
