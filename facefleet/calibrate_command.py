"""`facefleet calibrate SET`: a face set's own thresholds for target false-accept rates, with
its FAR/FRR curve drawn in the terminal or saved as an SVG picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from facefleet.client import FaceFleet, FaceFleetError

console = Console()
CHART_ROWS = 12
CHART_WIDTH = 50


def text_chart(roc: list[dict[str, Any]], rows: int = CHART_ROWS, width: int = CHART_WIDTH) -> list[str]:
    """FAR (``x``) and FRR (``o``) against the distance threshold, one text row per threshold."""
    points = [p for p in roc if p["far"] is not None and p["frr"] is not None]
    if not points:
        return ["(no labelled pairs: enroll faces with a user_id)"]
    step = max(1, len(points) // rows)
    lines = [f"{'distance':>9}  0{' ' * (width - 2)}1  FAR (x)  FRR (o)"]
    for point in points[::step]:
        cells = [" "] * width
        far_at, frr_at = round(point["far"] * (width - 1)), round(point["frr"] * (width - 1))
        cells[frr_at] = "o"
        cells[far_at] = "*" if far_at == frr_at else "x"
        lines.append(f"{point['distance']:9.3f} |{''.join(cells)}| {point['far']:7.4f}  {point['frr']:7.4f}")
    return lines


@click.command("calibrate")
@click.argument("face_set")
@click.option(
    "--svg",
    "svg_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also save the curve as an SVG picture here",
)
@click.option("--key", envvar="FACEFLEET_API_KEY", required=True, help="API key (env FACEFLEET_API_KEY)")
@click.option(
    "--project", envvar="FACEFLEET_PROJECT", required=True, help="project id (env FACEFLEET_PROJECT)"
)
@click.option("--url", envvar="FACEFLEET_URL", default="http://127.0.0.1:8080", show_default=True)
def calibrate(face_set: str, svg_path: Path | None, url: str, project: str, key: str) -> None:
    """Thresholds for FAR 1e-2, 1e-3 and 1e-4 from FACE_SET's own faces (pairs of user ids)."""
    client = FaceFleet(url, project, key)
    try:
        body = client.calibration(face_set)
        svg = client.calibration_svg(face_set) if svg_path is not None else None
    except FaceFleetError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from error
    console.print(
        f"{face_set} ({body['model_id']}): {body['labelled_faces']} labelled faces of {body['persons']} persons, "
        f"{body['genuine_pairs']} genuine and {body['impostor_pairs']} impostor pairs"
    )
    default = body["default_threshold"]
    if default is None:
        console.print("no default threshold: the model has none (use far= or register it with --threshold)")
    else:
        console.print(f"default threshold {default['distance']}: FAR {default['far']}, FRR {default['frr']}")
    table = Table("target FAR", "distance", "similarity", "measured FAR", "FRR", "impostor pairs", "status")
    for row in body["thresholds"]:
        table.add_row(
            f"{row['far']:g}",
            "–" if row["distance"] is None else f"{row['distance']:.4f}",
            "–" if row["similarity"] is None else f"{row['similarity']:.4f}",
            "–" if row["measured_far"] is None else f"{row['measured_far']:.4f}",
            "–" if row["frr"] is None else f"{row['frr']:.4f}",
            str(row["impostor_pairs"]),
            row["status"],
        )
    console.print(table)
    for line in text_chart(body["roc"]):
        click.echo(line)
    if svg_path is not None and svg is not None:
        svg_path.write_text(svg)
        click.echo(f"curve saved to {svg_path}")
