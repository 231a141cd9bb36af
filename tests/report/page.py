"""Reading a report page back: its table rows, figures, ids and anything that would load."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Page(HTMLParser):
    """The parts of the page the tests look at."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.rows: dict[str, str] = {}
        """data-mode → class of each prediction-table row."""
        self.svgs = 0
        self.ids: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.loads: list[str] = []
        """Attributes that would fetch something (src, href other than a fragment)."""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and "data-mode" in a:
            self.rows[a["data-mode"]] = a.get("class", "")
        if tag == "svg":
            self.svgs += 1
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("src", "href", "xlink:href", "srcset", "action", "data"):
            value = a.get(name)
            if value is not None and not value.startswith("#"):
                self.loads.append(f"{tag} {name}={value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())


URL = re.compile(r"(?i)\b(?:https?|wss?|ftp)://|//[a-z0-9-]+\.[a-z]{2,}/|@import|url\((?!#)")
"""Anything in the file that could name a resource elsewhere."""


def remote_references(html: str) -> list[str]:
    return [m.group(0) for m in URL.finditer(html)]
