"""Reading kubegate's HTML pages in tests: the links and the service rows they show."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Link:
    href: str
    text: str
    classes: str


@dataclass
class Page:
    links: list[Link] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # data-service of each row: "ns/name"
    codes: list[str] = field(default_factory=list)  # the text of every <code>
    scripts: list[str] = field(default_factory=list)  # the text of every <script>

    def hrefs(self, cls: str = "") -> list[str]:
        return [link.href for link in self.links if cls in link.classes.split() or not cls]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._open: list[tuple[str, dict[str, str], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-service" in values:
            self.page.services.append(values["data-service"])
        if tag in ("a", "code", "script"):
            self._open.append((tag, values, []))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1][0] != tag:
            return
        _, values, text = self._open.pop()
        joined = "".join(text)
        if tag == "a":
            self.page.links.append(Link(values.get("href", ""), joined, values.get("class", "")))
        elif tag == "code":
            self.page.codes.append(joined)
        else:
            self.page.scripts.append(joined)


def read_page(body: bytes) -> Page:
    reader = _Reader()
    reader.feed(body.decode())
    reader.close()
    return reader.page
