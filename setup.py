"""Build hook for the optional native OTLP decoder; project metadata lives in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and msgtrace.core.otlp_native
falls back to the Python decoder.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "msgtrace.core._otlp_native",
            ["msgtrace/core/_otlp_native.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
