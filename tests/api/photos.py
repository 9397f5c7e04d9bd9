"""The photos the API tests use: small real ones (the HOG detector's time grows with pixels)."""

from __future__ import annotations

import base64
import random
import uuid
from pathlib import Path

from tests.support.photos import FACES, identity_photos, misc

OBAMA = FACES / "face_recognition-obama" / "obama-480p.jpg"
OBAMA_SMALL = FACES / "face_recognition-obama" / "obama_small.jpg"
OBAMA_240 = FACES / "face_recognition-obama" / "obama-240p.jpg"
WOZNIAK = FACES / "face_recognition-steve_wozniak" / "steve_wozniak3.jpg"
ALLEN = FACES / "face_recognition-paul_allen" / "paul_allen.jpg"
GUIDO = FACES / "face_recognition-guido_van_rossum" / "guido_van_rossum3.jpg"
KIT = FACES / "face_recognition-kit_harington" / "john2.jpeg"
TWO_PEOPLE = misc("multi_face", "face_recognition__two_people.jpg")
NO_FACE = misc("no_face", "inspireface__view.jpg")
CORRUPT = b"\xff\xd8\xff\xe0 this is not really a jpeg" + bytes(range(256)) * 4


def b64(path: Path, data_url: bool = False) -> str:
    text = base64.b64encode(path.read_bytes()).decode()
    return f"data:image/jpeg;base64,{text}" if data_url else text


def unique_copy(photo: Path, folder: Path) -> Path:
    """The photo with one corner pixel changed: new bytes, so an object key no other test of
    this shared stack can hold."""
    from PIL import Image

    image = Image.open(photo).convert("RGB")
    image.putpixel((0, 0), tuple(random.randrange(256) for _ in range(3)))
    copy = folder / f"{uuid.uuid4().hex}.png"
    image.save(copy)
    return copy


def all_identity_photos() -> list[Path]:
    """Every photo of every identity folder (140 at the time of writing)."""
    return sorted(
        photo
        for folder in FACES.iterdir()
        if folder.is_dir() and not folder.name.startswith("_")
        for photo in identity_photos(folder.name)
    )


__all__ = ["identity_photos", "misc"]
