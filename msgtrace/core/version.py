"""This distribution's version, importable whichever package's `msgtrace/__init__.py` is loaded
(msgtrace-sdk ships one too; see msgtrace._msgflux_coexist)."""

VERSION = "0.2.0"
