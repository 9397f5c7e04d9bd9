"""Faces drawn on their image: a box, the five landmarks and a numbered label each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BOX_COLOUR = (0, 255, 0)
LANDMARK_COLOUR = (255, 0, 0)


def draw_faces(image_path: Path, faces: list[dict[str, Any]], out: Path) -> None:
    # Imported here: the API image ships the `facefleet` command without Pillow.
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    # The API's boxes are in the EXIF-rotated image, so draw on the same orientation.
    image = ImageOps.exif_transpose(Image.open(image_path)).convert("RGB")
    canvas = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 400))
    for number, face in enumerate(faces, 1):
        box = face["bounding_box"]
        left, top = box["top_left_x"], box["top_left_y"]
        right, bottom = left + box["width"], top + box["height"]
        canvas.rectangle((left, top, right, bottom), outline=BOX_COLOUR, width=width)
        radius = width + 1
        for point in face.get("landmarks", []):
            x, y = point["x"], point["y"]
            canvas.ellipse((x - radius, y - radius, x + radius, y + radius), fill=LANDMARK_COLOUR)
        label = f"{number} {face.get('confidence', 0):.2f}"
        # Labels scale with the image so they stay readable on large photos.
        font = ImageFont.load_default(size=max(12, round(max(image.size) / 60)))
        x0, y0, x1, y1 = canvas.textbbox((0, 0), label, font=font)
        label_top = max(0, top - (y1 - y0) - 2 * width)
        canvas.rectangle(
            (left, label_top, left + x1 - x0 + 2 * width, label_top + y1 - y0 + width), fill=BOX_COLOUR
        )
        canvas.text((left + width - x0, label_top - y0), label, fill=(0, 0, 0), font=font)
    image.save(out)
