"""Real photos from ../shared/data/faces, chosen by identity (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def identity_photos(identity: str) -> list[Path]:
    folder = FACES / identity
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing: ../shared/data must sit beside the repository")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def single_face_identities(min_photos: int = 2) -> list[str]:
    """Identity folders with at least ``min_photos`` photos (each shows one person)."""
    return sorted(
        folder.name
        for folder in FACES.iterdir()
        if folder.is_dir() and not folder.name.startswith("_") and len(identity_photos(folder.name)) >= min_photos
    )


def misc(*parts: str) -> Path:
    return FACES.joinpath("_misc", *parts)
