"""SSH connections (asyncssh) and the Docker API over them.

asyncssh looks for optional native libraries as it is imported: liboqs (post-quantum key
exchange) with ctypes.util.find_library, which, for a library the ld cache does not list,
runs gcc and then ld to search further: 20-40 ms on every start of every command, more on a
busy machine. Here that probe asks the ld cache only (`ldconfig -p`, as find_library does
first). A liboqs that only a compiler's search would find is then not used: asyncssh
negotiates the key exchanges it has without it, as where liboqs is not installed.
"""

from __future__ import annotations

import ctypes.util

_LD_CACHE_ONLY = frozenset({"oqs", "liboqs"})
_find_library = ctypes.util.find_library
_in_ld_cache = getattr(ctypes.util, "_findSoname_ldconfig", None)  # Linux's first step


def _find_library_quickly(name: str) -> str | None:
    if name in _LD_CACHE_ONLY and _in_ld_cache is not None:
        return _in_ld_cache(name)
    return _find_library(name)


if _in_ld_cache is not None and ctypes.util.find_library is _find_library:
    ctypes.util.find_library = _find_library_quickly
