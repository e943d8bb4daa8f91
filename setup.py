"""Build hook for the optional native OTLP decoder; project metadata lives in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and msgtrace.core.otlp_native
falls back to the Python decoder. The build records a digest of its C source, so a stale build
(source changed, extension not rebuilt) is detected and not used.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "msgtrace/core/_otlp_native.c"
DIGEST = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()[:16]

setup(
    ext_modules=[
        Extension(
            "msgtrace.core._otlp_native",
            [SOURCE],
            optional=True,
            extra_compile_args=["-O2"],
            define_macros=[("SOURCE_DIGEST", f'"{DIGEST}"')],
        )
    ]
)
