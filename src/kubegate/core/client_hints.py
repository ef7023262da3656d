"""What a browser's ``Sec-CH-UA`` client hint says about it (RFC 8941 list of brands).

``Sec-CH-UA`` is a structured-field list of strings, each with a ``v`` parameter: the
browser's brands and their major versions, e.g. ``"Chromium";v="133", "Google
Chrome";v="133", "Not(A:Brand";v="99"``. Every Chromium-based browser lists ``Chromium``
(and a made-up GREASE brand that must be ignored). Used where a feature cannot be detected
from the page itself: several import maps per document (Chromium 133) is one.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MULTIPLE_IMPORT_MAPS", "chromium_major", "merges_import_maps"]

MULTIPLE_IMPORT_MAPS: Final = 133  # the first Chromium that merges a page's import maps
_MAX_HINT: Final = 512  # longer values are not a browser's (they are not parsed)
_BRAND: Final = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*;\s*v\s*=\s*"(\d{1,6})"\s*(?:;[^,]*)?')


def chromium_major(sec_ch_ua: str | None) -> int | None:
    """The major version of the ``Chromium`` brand in ``sec_ch_ua``; None when it is absent
    or the value is not a well-formed brand list."""
    if not sec_ch_ua or len(sec_ch_ua) > _MAX_HINT:
        return None
    found = None
    for member in sec_ch_ua.split(","):
        match = _BRAND.fullmatch(member)
        if match is None:
            return None  # (brand names never hold a comma: one bad member spoils the list)
        if match.group(1) == "Chromium":
            if found is not None:
                return None  # twice: not a browser's list
            found = int(match.group(2))
    return found


def merges_import_maps(sec_ch_ua: str | None) -> bool:
    """Whether the browser applies a second ``<script type="importmap">`` by merging it
    into the first (Chromium 133 and later); an older or unknown browser ignores every map
    after the first, so a page's own map must then be the only one."""
    major = chromium_major(sec_ch_ua)
    return major is not None and major >= MULTIPLE_IMPORT_MAPS
