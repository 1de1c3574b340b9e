"""The browser or client family of a User-Agent header: cheap, with no parsing library.

Only the family is kept (``Chrome``, ``Firefox``, ``curl``...), never the full header: it is a
low-cardinality value that is useful on a dashboard, while the full string fingerprints users.
"""

from __future__ import annotations

from functools import lru_cache

# Order matters: Edge and Opera say "Chrome", Chrome says "Safari", bots say everything.
_FAMILIES = (
    ("bot", "Bot"),
    ("spider", "Bot"),
    ("crawl", "Bot"),
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("firefox/", "Firefox"),
    ("chrome/", "Chrome"),
    ("chromium/", "Chrome"),
    ("safari/", "Safari"),
    ("curl/", "curl"),
    ("wget/", "Wget"),
    ("python-requests", "python-requests"),
    ("python-httpx", "httpx"),
    ("python-urllib", "urllib"),
    ("go-http-client", "Go"),
    ("okhttp", "OkHttp"),
    ("postmanruntime", "Postman"),
    ("werkzeug", "Werkzeug"),
)


@lru_cache(maxsize=512)
def user_agent_family(header: str | None) -> str | None:
    if not header:
        return None
    lowered = header.lower()
    for needle, family in _FAMILIES:
        if needle in lowered:
            return family
    return "Other"
