"""Charts of the insight dashboard as SVG, drawn on the server with pygal.

Served as ``<img>`` from the service itself: no JavaScript, no CDN, the page's strict CSP stays
as it is. pygal writes a small configuration ``<script>`` into every SVG for its optional
tooltips; it is removed here (an SVG shown as an image never runs scripts anyway). Suppressed
cells are left out of the bars; the data table under each chart says "<5" for them.
"""

from __future__ import annotations

import sys
from xml.etree import ElementTree

import pygal
from pygal.style import Style

from .figures import Group

# pygal appends an import hook for map plugins (pygal.maps.*) to sys.meta_path. It has only the
# old find_module, so every import that reaches it (an unknown codec, numpy's optional modules
# when deduce loads) raises an ImportWarning: an error under the tests' warning filter. No maps
# are used here, so the hook goes.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "pygal"]

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#555555",
    font_family="Arial, 'Liberation Sans', sans-serif",
    colors=("#1f5f99", "#8a4f00"),
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
    legend_font_size=14,
    title_font_size=16,
)


def bar_chart(group: Group, compare_desk: bool = False) -> bytes:
    """Horizontal bars of the shown cells (share in % when comparing with the municipal desk)."""
    cells = [c for c in group.cells if c.count is not None]
    chart = pygal.HorizontalBar(
        style=STYLE,
        js=[],
        width=800,
        height=max(160, 60 + 36 * len(cells)),
        show_legend=compare_desk,
        legend_at_bottom=True,
        print_values=not compare_desk,
        truncate_label=-1,
        no_data_text="Geen gegevens",
    )
    # pygal draws the first label at the bottom: reversed, the chart reads like the table.
    chart.x_labels = [c.label for c in reversed(cells)]
    if compare_desk:
        chart.add("chat (%)", [c.share for c in reversed(cells)])
        chart.add("balie (%)", [c.desk_share for c in reversed(cells)])
    else:
        chart.add(group.title, [c.count for c in reversed(cells)])
    tree: ElementTree.Element = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    svg: bytes = ElementTree.tostring(tree, encoding="utf-8", xml_declaration=True)
    return svg
