"""Charts in Office files (PPTX and DOCX alike): the words a person reads on them.

A slide holding only a chart ("Wants a peach", by month) has no text frame, yet its title,
axis titles, categories and series names are what a reader takes from it. Both formats
store a chart as the same DrawingML chart part, so one reader serves both; the numbers
themselves are left out (they mean nothing to a search without their labels).
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

_NS = {
    "c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
}
_AXES = ("c:catAx", "c:dateAx", "c:valAx", "c:serAx")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def chart_text(xml: bytes) -> str:
    """The chart's title, axis titles, categories and series names, a line each."""
    root = etree.fromstring(xml, _PARSER)
    chart = root.find("c:chart", _NS)
    if chart is None:
        return ""
    plot = chart.find("c:plotArea", _NS)
    lines = [_title(chart.find("c:title", _NS))]
    if plot is not None:
        axes = (_title(axis.find("c:title", _NS)) for name in _AXES
                for axis in plot.findall(name, _NS))
        lines.append(" | ".join(title for title in axes if title))
        series = plot.findall(".//c:ser", _NS)
        lines.append(", ".join(_unique(_values(s.find("c:cat", _NS)) for s in series)))
        lines.append(", ".join(_unique(_values(s.find("c:tx", _NS)) for s in series)))
    return "\n".join(line for line in lines if line)


def _title(title: etree._Element | None) -> str:
    """A title's rich text, or the cell it refers to."""
    if title is None:
        return ""
    text = "".join(t.text or "" for t in title.iterfind(".//a:t", _NS))
    return " ".join((text or " ".join(_values(title))).split())


def _values(element: etree._Element | None) -> list[str]:
    """The cached cell values under a reference (``c:strCache``/``c:numCache``) or literal."""
    if element is None:
        return []
    return [" ".join(v.text.split()) for v in element.iterfind(".//c:v", _NS) if v.text]


def _unique(groups: Iterable[list[str]]) -> list[str]:
    return list(dict.fromkeys(value for group in groups for value in group if value))
