"""The smallest face the default detector finds reliably, measured by downscaling the shared
faces, alone and as a crowd.

Each of the first N single-face identity photos gives its largest face (found at full size by
the default detector); the face, with a margin of half its width, is scaled so that the face
box is S px wide and pasted on a mid-grey canvas: alone on a 640x480 canvas, and as crowds of
20 on a 1280x960 canvas (a 5x4 grid). Recall per size is the share of pasted faces found
(a detection whose centre lies inside the pasted face box).

    .venv/bin/python -m bench.face_size [--photos 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import REPO, pin_to_one_core, progress

SIZES = (12, 16, 20, 24, 28, 32, 40, 48)
MODELS = REPO / ".facefleet" / "models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=30)
    args = parser.parse_args()
    pin_to_one_core()
    from pipelines.catalog import build_pipeline
    from pipelines.engine import largest_face
    from pipelines.image import ImageLimits, decode_image
    from tests.support.photos import identity_photos, single_face_identities

    pipeline = build_pipeline(embedding_backend="onnx", backend_options={"model_path": MODELS / "dlib_resnet_v1.onnx"},
                              blazeface_onnx=MODELS / "blazeface_back.onnx", min_face_size=8)
    crops: list[tuple[Image.Image, float]] = []  # face crop with margin, face width share of the crop
    for identity in single_face_identities():
        if len(crops) >= args.photos:
            break
        photo = identity_photos(identity)[0]
        image = decode_image(photo.read_bytes(), ImageLimits())
        faces = pipeline.detect(image, landmarks=False)
        if not faces:
            continue
        box = largest_face(faces).box
        margin = box.width // 2
        left, top = max(0, box.x - margin), max(0, box.y - margin)
        right, bottom = min(image.width, box.right + margin), min(image.height, box.bottom + margin)
        crop = Image.fromarray(image.pixels[top:bottom, left:right])
        crops.append((crop, box.width / crop.width))
    progress(f"{len(crops)} faces")

    def paste(canvas: Image.Image, crop: Image.Image, share: float, size: int, x: int, y: int) -> tuple[int, int, int, int]:
        scale = size / (share * crop.width)
        small = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.LANCZOS)
        canvas.paste(small, (x, y))
        cx, cy = x + small.width / 2, y + small.height / 2
        return round(cx - size / 2), round(cy - size / 2), round(cx + size / 2), round(cy + size / 2)

    def found(boxes: list[tuple[int, int, int, int]], pixels: np.ndarray) -> tuple[int, int, float]:
        started = time.perf_counter()
        faces = pipeline.detect(pixels, landmarks=False)
        ms = (time.perf_counter() - started) * 1000
        hits = sum(any(b[0] <= f.box.x + f.box.width / 2 <= b[2] and b[1] <= f.box.y + f.box.height / 2 <= b[3]
                       for f in faces) for b in boxes)
        return hits, len(faces) - hits, ms

    print("| face width px | alone: found | crowd of 20: found | crowd: extra detections | crowd ms (1.2 MP) |")
    print("|---:|---:|---:|---:|---:|")
    for size in SIZES:
        alone = 0
        for crop, share in crops:
            canvas = Image.new("RGB", (640, 480), (128, 128, 128))
            box = paste(canvas, crop, share, size, 320 - size, 240 - size)
            alone += found([box], np.asarray(canvas))[0]
        crowd_hits, crowd_extra, crowd_ms, crowds = 0, 0, 0.0, 0
        for start in range(0, len(crops) - 19, 20):
            canvas = Image.new("RGB", (1280, 960), (128, 128, 128))
            boxes = [paste(canvas, crop, share, size, 40 + (i % 5) * 250, 40 + (i // 5) * 230)
                     for i, (crop, share) in enumerate(crops[start:start + 20])]
            hits, extra, ms = found(boxes, np.asarray(canvas))
            crowd_hits, crowd_extra, crowd_ms, crowds = crowd_hits + hits, crowd_extra + extra, crowd_ms + ms, crowds + 1
        print(f"| {size} | {alone}/{len(crops)} | {crowd_hits}/{20 * crowds} | {crowd_extra} | {crowd_ms / max(crowds, 1):.0f} |")


if __name__ == "__main__":
    main()
