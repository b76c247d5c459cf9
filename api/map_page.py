"""The bridge map as one HTML page: an office graph, a strength matrix, office cards, themes.

The page is what a person opens to see how the offices' knowledge overlaps, so it must
work offline: by default plotly.js is inlined and the file stands alone (``bridge map
--html FILE``); the server passes ``plotly_src`` instead, to serve the bundle once.
The figures are built here with plotly and embedded as JSON data that the page draws;
this module renders a ``BridgeMap``, it computes nothing about the offices.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import networkx as nx
import plotly.graph_objects as go
import plotly.offline
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from search.records import BridgeMap, OfficeLink, Theme

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAP_SCRIPT = Path(__file__).resolve().parent / "static" / "bridge-map.js"
MAP_SCRIPT_URL = "/static/bridge-map.js"
LABEL_TERMS = 3
TOP_THEMES = 3
EDGE_WIDTH = (1.0, 14.0)  # px for the weakest possible link, added px for the strongest
NODE_SIZE = (14.0, 46.0)  # px for an empty office, added px for the largest
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def theme_label(theme: Theme) -> str:
    """A theme's short name: the first terms of its first language.

    Labels come with the language holding most of the theme's words first, so its terms
    say the most; a handful are enough to recognise a theme at a glance.
    """
    if not theme.labels:
        return f"theme {theme.id}"
    terms = next(iter(theme.labels.values()))
    return " · ".join(terms[:LABEL_TERMS]) or f"theme {theme.id}"


_env.filters["theme_label"] = theme_label


def _escaped(text: str) -> str:
    """``text`` escaped for plotly, which reads its labels as a small subset of HTML."""
    return html.escape(text, quote=False)


def _link_themes(link: OfficeLink, labels: dict[int, str]) -> list[str]:
    """The labels of the link's top themes, most bridges first."""
    return [labels.get(t.theme, f"theme {t.theme}") for t in link.themes[:TOP_THEMES]]


def _link_hover(link: OfficeLink, labels: dict[int, str]) -> str:
    """Hover text of a link: its strength, bridges and top themes, as plotly markup."""
    a, b = (_escaped(name) for name in link.offices)
    themes = "".join(f"<br>• {_escaped(label)}" for label in _link_themes(link, labels))
    return f"<b>{a} ↔ {b}</b><br>strength {link.strength:.0%} · {link.bridges} bridges{themes}"


def _figure_data(fig: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON data, for the template's ``tojson`` to embed safely."""
    return json.loads(fig.to_json())


def _base_layout(**extra: Any) -> dict[str, Any]:
    return dict(template="plotly_white", font={"family": FONT, "size": 13},
                margin={"l": 10, "r": 10, "t": 10, "b": 10}, hoverlabel={"align": "left"},
                autosize=True, **extra)


def _graph_figure(bridge_map: BridgeMap, labels: dict[int, str]) -> go.Figure:
    """Offices as nodes sized by chunks, links as edges as wide as their strength.

    Strongly linked offices are laid out close together (a spring layout weighted by
    strength), and each edge carries its top theme at its middle, where a point also
    carries the edge's hover text (plotly shows hover on points, not along lines).
    """
    graph = nx.Graph()
    graph.add_nodes_from(o.office for o in bridge_map.offices)
    graph.add_weighted_edges_from((*link.offices, link.strength) for link in bridge_map.links)
    pos = {name: tuple(map(float, xy)) for name, xy in
           nx.spring_layout(graph, weight="weight", seed=7).items()}

    strongest = max((link.strength for link in bridge_map.links), default=0.0) or 1.0
    fig = go.Figure()
    for link in bridge_map.links:
        (x0, y0), (x1, y1) = pos[link.offices[0]], pos[link.offices[1]]
        width = EDGE_WIDTH[0] + EDGE_WIDTH[1] * link.strength / strongest
        fig.add_scatter(x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="skip",
                        line={"width": width, "color": "rgba(37, 99, 235, 0.45)"})
    if bridge_map.links:
        mids = [[(a + b) / 2 for a, b in zip(pos[link.offices[0]], pos[link.offices[1]],
                                            strict=True)] for link in bridge_map.links]
        fig.add_scatter(
            x=[m[0] for m in mids], y=[m[1] for m in mids], mode="markers+text",
            marker={"size": 10, "color": "rgba(37, 99, 235, 0.9)", "symbol": "diamond"},
            text=[_escaped(next(iter(_link_themes(link, labels)), ""))
                  for link in bridge_map.links],
            textposition="bottom center", textfont={"size": 11, "color": "#475569"},
            hovertext=[_link_hover(link, labels) for link in bridge_map.links],
            hoverinfo="text", name="links")

    largest = max((o.chunks for o in bridge_map.offices), default=0) or 1
    fig.add_scatter(
        x=[pos[o.office][0] for o in bridge_map.offices],
        y=[pos[o.office][1] for o in bridge_map.offices],
        mode="markers+text", name="offices",
        text=[f"<b>{_escaped(o.office)}</b>" for o in bridge_map.offices],
        textposition="top center",
        marker={"size": [NODE_SIZE[0] + NODE_SIZE[1] * math.sqrt(o.chunks / largest)
                         for o in bridge_map.offices],
                "color": "#f59e0b", "line": {"width": 2, "color": "white"}},
        hovertext=[f"<b>{_escaped(o.office)}</b><br>{o.documents} documents · {o.chunks} chunks"
                   f"<br>{len(o.shared)} shared themes · {len(o.only)} only here"
                   for o in bridge_map.offices],
        hoverinfo="text")

    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    fig.update_layout(_base_layout(
        showlegend=False, height=480, dragmode="pan",
        xaxis={"visible": False, "range": [min(xs) - 0.35, max(xs) + 0.35]},
        yaxis={"visible": False, "range": [min(ys) - 0.3, max(ys) + 0.35]}))
    return fig


def _matrix_figure(bridge_map: BridgeMap, labels: dict[int, str]) -> go.Figure:
    """Office x office strength, symmetric, the diagonal blank; hover lists the themes."""
    names = [o.office for o in bridge_map.offices]
    index = {name: i for i, name in enumerate(names)}
    z: list[list[float | None]] = [[None if i == j else 0.0 for j in names] for i in names]
    hover = [[f"{_escaped(b)} ↔ {_escaped(a)}<br>no link" for b in names] for a in names]
    for link in bridge_map.links:
        i, j = index[link.offices[0]], index[link.offices[1]]
        z[i][j] = z[j][i] = link.strength
        hover[i][j] = hover[j][i] = _link_hover(link, labels)
    for i in range(len(names)):
        hover[i][i] = f"<b>{_escaped(names[i])}</b>"

    ticks = [_escaped(name) for name in names]
    fig = go.Figure(go.Heatmap(z=z, x=ticks, y=ticks, hovertext=hover, hoverinfo="text",
                               colorscale="Blues", zmin=0, xgap=2, ygap=2,
                               colorbar={"title": {"text": "strength"}, "tickformat": ".0%"}))
    fig.update_layout(_base_layout(height=max(320, 60 + 42 * len(names)),
                                   yaxis={"autorange": "reversed"},
                                   xaxis={"side": "top", "tickangle": -30}))
    return fig


def render_map_html(bridge_map: BridgeMap, plotly_src: str | None = None) -> str:
    """The bridge map as a complete HTML page.

    With ``plotly_src=None`` plotly.js and the drawing script are inlined (several MB) so
    the file opens offline anywhere; otherwise the page loads both from this site (the
    server's content policy runs no inline script).
    """
    labels = {t.id: theme_label(t) for t in bridge_map.themes}
    figures = {}
    if bridge_map.offices:
        figures["graph"] = _figure_data(_graph_figure(bridge_map, labels))
    if len(bridge_map.offices) > 1:
        figures["matrix"] = _figure_data(_matrix_figure(bridge_map, labels))
    inline_js = Markup(plotly.offline.get_plotlyjs()) if figures and not plotly_src else None
    return _env.get_template("bridge_map.html").render(
        map=bridge_map,
        themes_by_id={t.id: t for t in bridge_map.themes},
        links=sorted(bridge_map.links, key=lambda link: -link.strength),
        figures=figures,
        plotly_src=plotly_src,
        plotly_js=inline_js,
        map_src=MAP_SCRIPT_URL,
        map_js=Markup(MAP_SCRIPT.read_text(encoding="utf-8")) if inline_js else None,
        top_themes=TOP_THEMES,
    )
