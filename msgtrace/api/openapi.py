"""`python -m msgtrace.api.openapi`: print the REST API's OpenAPI schema (used to type the UI)."""

from __future__ import annotations

import json
import sys


def main() -> None:
    from msgtrace.api.app import create_app_for_schema

    json.dump(create_app_for_schema().openapi(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
