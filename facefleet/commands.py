"""The client side of the `facefleet` command: face sets, bulk enrollment, search,
detection with a drawn result, and jobs, over the HTTP API of a running service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from facefleet.client import FaceFleet, FaceFleetError

console = Console()


def connection_options(command: Any) -> Any:
    for option in (
        click.option(
            "--key", envvar="FACEFLEET_API_KEY", required=True, help="API key (env FACEFLEET_API_KEY)"
        ),
        click.option(
            "--project", envvar="FACEFLEET_PROJECT", required=True, help="project id (env FACEFLEET_PROJECT)"
        ),
        click.option("--url", envvar="FACEFLEET_URL", default="http://127.0.0.1:8080", show_default=True),
    ):
        command = option(command)
    return command


def _client(url: str, project: str, key: str) -> FaceFleet:
    return FaceFleet(url, project, key)


def _fail(error: FaceFleetError) -> None:
    raise click.ClickException(f"{error.code}: {error.message}")


def register(main: click.Group) -> None:
    main.add_command(face_set_group)
    main.add_command(enroll)
    main.add_command(search)
    main.add_command(detect)
    main.add_command(job_group)
    from facefleet.calibrate_command import calibrate

    main.add_command(calibrate)


# ---------------------------------------------------------------------------- face sets


@click.group("set")
def face_set_group() -> None:
    """Create, list and delete face sets."""


@face_set_group.command("create")
@click.argument("name")
@click.option("--capacity", type=int, default=None)
@click.option(
    "--field",
    "fields",
    multiple=True,
    help="custom field as NAME:TYPE (string, integer, long, float, double, boolean)",
)
@connection_options
def set_create(
    name: str, capacity: int | None, fields: tuple[str, ...], url: str, project: str, key: str
) -> None:
    schema = dict(field.split(":", 1) for field in fields)
    try:
        info = _client(url, project, key).create_face_set(name, capacity, schema)
    except FaceFleetError as error:
        _fail(error)
    click.echo(
        f"created {info['face_set_name']} ({info['face_set_id']}), capacity {info['face_set_capacity']}"
    )


@face_set_group.command("list")
@connection_options
def set_list(url: str, project: str, key: str) -> None:
    try:
        sets = _client(url, project, key).face_sets()
    except FaceFleetError as error:
        _fail(error)
    table = Table("face set", "faces", "capacity", "created")
    for info in sets:
        table.add_row(
            info["face_set_name"],
            str(info["face_number"]),
            str(info["face_set_capacity"]),
            info["create_date"],
        )
    console.print(table)


@face_set_group.command("delete")
@click.argument("name")
@connection_options
def set_delete(name: str, url: str, project: str, key: str) -> None:
    try:
        result = _client(url, project, key).delete_face_set(name)
    except FaceFleetError as error:
        _fail(error)
    click.echo(f"deleted {name} ({result.get('deleted_faces', 0)} faces)")


# ---------------------------------------------------------------------------- enroll


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--set", "face_set", required=True, help="face set to enroll into (created if missing)")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--parallel", default=2, show_default=True, help="batches uploaded at once")
@click.option(
    "--select", type=click.Choice(["largest", "single", "all"]), default="largest", show_default=True
)
@click.option("--user-id-from", type=click.Choice(["folder", "none"]), default="folder", show_default=True)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    default=None,
    help="resume file (default: FOLDER/.facefleet-enroll-SET.json)",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV of every file (default: FOLDER/facefleet-enroll-SET.csv)",
)
@click.option("--max-batches", type=int, default=None, help="stop after this many batches (resume later)")
@connection_options
def enroll(
    folder: Path,
    face_set: str,
    batch_size: int,
    parallel: int,
    select: str,
    user_id_from: str,
    state_path: Path | None,
    report_path: Path | None,
    max_batches: int | None,
    url: str,
    project: str,
    key: str,
) -> None:
    """Enroll every image under FOLDER; folder names become user ids. Resumable."""
    from facefleet.bulk import EnrollState, enroll_folder, write_report

    client = _client(url, project, key)
    try:
        existing = {info["face_set_name"] for info in client.face_sets()}
        if face_set not in existing:
            client.create_face_set(face_set)
        state = EnrollState(state_path or folder / f".facefleet-enroll-{face_set}.json")
        columns = (
            TextColumn("enrolling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("enroll", total=None, rate="")

            def advance(files: int) -> None:
                progress.advance(task, files)
                elapsed = progress.tasks[task].elapsed or 0.0
                done = progress.tasks[task].completed
                progress.update(task, rate=f"{done / elapsed:.1f} files/s" if elapsed else "")

            summary, entries = enroll_folder(
                client,
                folder,
                face_set,
                state=state,
                batch_size=batch_size,
                parallel=parallel,
                select=select,
                user_id_from=user_id_from,
                max_batches=max_batches,
                on_files_done=advance,
                on_total=lambda total: progress.update(task, total=total, visible=total > 0),
            )
    except FaceFleetError as error:
        _fail(error)
    report = report_path or folder / f"facefleet-enroll-{face_set}.csv"
    write_report(report, entries, state)
    result = summary.as_dict()
    reasons = ", ".join(f"{reason}: {count}" for reason, count in result["rejected_by_reason"].items())
    click.echo(
        f"files {result['files']}: added {result['added']} ({result['faces_added']} faces), "
        f"duplicates {result['duplicates']}, rejected {result['rejected']}"
        + (f" ({reasons})" if reasons else "")
        + f", already done {result['already_done']}"
        + ("; stopped early, run again to resume" if summary.interrupted else "")
    )
    click.echo(f"report: {report}")


# ---------------------------------------------------------------------------- search and detect


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--set", "face_set", required=True)
@click.option("--top-n", default=5, show_default=True)
@click.option("--threshold", default=0.0, show_default=True, help="minimum similarity")
@click.option("--filter", "filter_text", default=None, help="seed filter syntax, e.g. team:exec")
@connection_options
def search(
    image: Path,
    face_set: str,
    top_n: int,
    threshold: float,
    filter_text: str | None,
    url: str,
    project: str,
    key: str,
) -> None:
    """Search a face set with the largest face of IMAGE."""
    options: dict[str, Any] = {"top_n": top_n, "threshold": threshold}
    if filter_text:
        options["filter"] = filter_text
    try:
        hits = _client(url, project, key).search(face_set, image, **options)["faces"]
    except FaceFleetError as error:
        _fail(error)
    table = Table("#", "similarity", "user_id", "external_image_id", "face_id", "fields")
    for rank, hit in enumerate(hits, 1):
        table.add_row(
            str(rank),
            f"{hit['similarity']:.4f}",
            hit.get("user_id") or "",
            hit["external_image_id"],
            hit["face_id"],
            json.dumps(hit.get("external_fields") or {}),
        )
    console.print(table if hits else "no match")


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--draw",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write IMAGE with boxes, landmarks and labels here",
)
@click.option("--attributes", default="", help="seed attribute codes, e.g. 0,1,2")
@connection_options
def detect(image: Path, draw: Path | None, attributes: str, url: str, project: str, key: str) -> None:
    """Detect the faces of IMAGE; print them, and draw them with --draw."""
    codes = [int(code) for code in attributes.split(",") if code.strip()]
    try:
        faces = _client(url, project, key).detect(image, codes)["faces"]
    except FaceFleetError as error:
        _fail(error)
    table = Table("#", "box (x, y, w, h)", "confidence", "attributes")
    for number, face in enumerate(faces, 1):
        box = face["bounding_box"]
        table.add_row(
            str(number),
            f"{box['top_left_x']}, {box['top_left_y']}, {box['width']}, {box['height']}",
            f"{face.get('confidence', 0):.3f}",
            json.dumps(face.get("attributes") or {}),
        )
    console.print(table if faces else "no face")
    if draw is not None:
        from facefleet.drawing import draw_faces

        draw_faces(image, faces, draw)
        click.echo(f"drawn: {draw}")


# ---------------------------------------------------------------------------- jobs


@click.group("job")
def job_group() -> None:
    """Inspect jobs."""


@job_group.command("status")
@click.argument("job_id")
@connection_options
def job_status(job_id: str, url: str, project: str, key: str) -> None:
    try:
        view = _client(url, project, key).job(job_id)
    except FaceFleetError as error:
        _fail(error)
    progress = view.get("progress")
    line = f"{view['job_id']}  {view['kind']}  {view['status']}"
    if progress:
        line += f"  {progress['done']}/{progress['total']}"
    click.echo(line)
    if view.get("error"):
        click.echo(f"error: {view['error']['error_code']}: {view['error']['error_msg']}")
    elif view.get("result") is not None:
        click.echo(json.dumps(view["result"], indent=1)[:4000])
