"""A face set's calibration curve as SVG: FAR and FRR against the distance threshold.

A few lines of SVG text instead of a plotting library: the API image carries no plotting
package, and the curve is two polylines on a fixed grid."""

from __future__ import annotations

from html import escape

from core.results import CalibrationResult

WIDTH, HEIGHT, MARGIN = 640, 400, 50


def roc_svg(calibration: CalibrationResult, title: str) -> str:
    points = [(p.distance, p.far, p.frr) for p in calibration.roc if p.far is not None and p.frr is not None]
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    lines = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-family="sans-serif" font-size="15">{escape(title)}</text>',
        f'<rect x="{MARGIN}" y="{MARGIN}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle" font-family="sans-serif" font-size="12">'
        "distance threshold</text>",
        f'<text x="14" y="{HEIGHT / 2}" font-family="sans-serif" font-size="12" '
        f'transform="rotate(-90 14 {HEIGHT / 2})" text-anchor="middle">rate</text>',
    ]
    if points:
        low, high = points[0][0], points[-1][0]
        span = (high - low) or 1.0

        def xy(distance: float, rate: float) -> str:
            return f"{MARGIN + (distance - low) / span * plot_w:.1f},{MARGIN + (1 - rate) * plot_h:.1f}"

        for column, key, colour in ((1, "far", "#c0392b"), (2, "frr", "#2471a3")):
            path = " ".join(xy(p[0], p[column]) for p in points)
            lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"><title>{key}</title></polyline>')
        for label, value, anchor, x in (("", low, "start", MARGIN), ("", high, "end", WIDTH - MARGIN)):
            lines.append(f'<text x="{x}" y="{HEIGHT - MARGIN + 16}" text-anchor="{anchor}" font-family="sans-serif" '
                         f'font-size="11">{label}{value:.3f}</text>')
        for target in calibration.thresholds:
            if target.distance is not None and low <= target.distance <= high:
                marker_x = MARGIN + (target.distance - low) / span * plot_w
                lines.append(f'<line x1="{marker_x:.1f}" y1="{MARGIN}" x2="{marker_x:.1f}" y2="{HEIGHT - MARGIN}" stroke="#777" '
                             f'stroke-dasharray="4 3"><title>FAR {target.far:g}</title></line>')
    lines.append(f'<text x="{MARGIN + 8}" y="{MARGIN + 16}" font-family="sans-serif" font-size="12" fill="#c0392b">FAR</text>')
    lines.append(f'<text x="{MARGIN + 8}" y="{MARGIN + 32}" font-family="sans-serif" font-size="12" fill="#2471a3">FRR</text>')
    lines.append("</svg>")
    return "\n".join(lines)
