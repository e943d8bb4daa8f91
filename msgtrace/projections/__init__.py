"""msgtrace.projections."""
