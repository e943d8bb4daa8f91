"""Build hook for the optional native OTLP decoder; project metadata lives in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and msgtrace.core.otlp_native
falls back to the Python decoder. The build records a digest of its C source, so a stale build
(source changed, extension not rebuilt) is detected and not used.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "msgtrace/core/_otlp_native.c"
ROOT = Path(__file__).parent
HEADERS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / SOURCE).parent.glob("_otlp_native_*.h"))
# the same digest as msgtrace.core.otlp_native.source_digest: the .c, then its headers by name
DIGEST = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in [SOURCE, *HEADERS])).hexdigest()[:16]

setup(
    ext_modules=[
        Extension(
            "msgtrace.core._otlp_native",
            [SOURCE],
            depends=HEADERS,
            optional=True,
            extra_compile_args=["-O2"],
            define_macros=[("SOURCE_DIGEST", f'"{DIGEST}"')],
        )
    ]
)
