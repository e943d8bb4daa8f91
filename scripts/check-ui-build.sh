#!/usr/bin/env bash
# Rebuilds the web UI from ui/ and fails when the result differs from the build committed in
# msgtrace/api/static (the build is deterministic, so any difference means a stale commit).
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm ci --no-audit --no-fund && npm run build)
changes="$(git status --porcelain --untracked-files=all -- msgtrace/api/static)"
if [ -n "$changes" ]; then
  echo "error: the committed UI build in msgtrace/api/static does not match ui/ sources:" >&2
  echo "$changes" >&2
  echo "hint: run 'cd ui && npm run build' and commit msgtrace/api/static together with the ui/ change." >&2
  exit 1
fi
echo "UI build matches the committed msgtrace/api/static."
