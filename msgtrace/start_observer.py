"""Shim for `from msgtrace import start_observer` when msgflux's SDK owns `msgtrace/__init__.py`.

See `msgtrace._msgflux_coexist`: importing this module replaces it with the public object.
"""

from msgtrace._msgflux_coexist import resolve_shim

resolve_shim(__name__)
