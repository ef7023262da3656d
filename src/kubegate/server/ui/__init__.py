"""kubegate's own browser pages: the shared page shell (layout), the service index at ``/``
(index) and the per-service origin mode behind ``--apps-domain`` (apps)."""

from kubegate.server.ui.layout import (
    escape,
    new_nonce,
    page_headers,
    render_page,
    send_page,
    wants_html,
)

__all__ = ["escape", "new_nonce", "page_headers", "render_page", "send_page", "wants_html"]
