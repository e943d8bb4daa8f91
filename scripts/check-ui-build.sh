#!/usr/bin/env bash
# Rebuilds the web UI from ui/ and fails when the result differs from the build committed in
# msgtrace/api/static (the build is deterministic, so any difference means a stale commit).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
# The UI's API types come from the app's OpenAPI schema: regenerate both and compare too.
"$PYTHON" -m msgtrace.api.openapi > ui/openapi.json
(cd ui && npm ci --no-audit --no-fund && npm run gen:api && npm run build)
stale_types="$(git status --porcelain -- ui/openapi.json ui/src/api/schema.d.ts)"
if [ -n "$stale_types" ]; then
  echo "error: ui/openapi.json or ui/src/api/schema.d.ts differs from the app's OpenAPI schema:" >&2
  echo "$stale_types" >&2
  echo "hint: run '.venv/bin/python -m msgtrace.api.openapi > ui/openapi.json && (cd ui && npm run gen:api && npm run build)' and commit the results." >&2
  exit 1
fi
changes="$(git status --porcelain --untracked-files=all -- msgtrace/api/static)"
if [ -n "$changes" ]; then
  echo "error: the committed UI build in msgtrace/api/static does not match ui/ sources:" >&2
  echo "$changes" >&2
  echo "hint: run 'cd ui && npm run build' and commit msgtrace/api/static together with the ui/ change." >&2
  exit 1
fi
echo "UI build matches the committed msgtrace/api/static."
