"""Regenerate the golden embeddings: ``.venv/bin/python -m tests.pipelines.make_golden``.

Run it only on purpose (a model, alignment or detector change); the diff of the JSON is the
review evidence that stored vectors would change."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.catalog import build_pipeline
from pipelines.engine import largest_face
from pipelines.image import ImageLimits, decode_image

FACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces"
GOLDEN = Path(__file__).resolve().parent / "golden" / "dlib_resnet_v1.json"
PHOTOS = (
    "face_recognition-obama/obama.jpg",
    "openface-adams/adams.jpg",
    "lfw-Anthony_Hopkins/Anthony_Hopkins_0001.jpg",
)


def main() -> None:
    pipeline = build_pipeline()
    entries = []
    for relative in PHOTOS:
        result = largest_face(pipeline.process(decode_image((FACES / relative).read_bytes(), ImageLimits())))
        assert result.embedding is not None
        box = result.face.box
        entries.append(
            {
                "photo": relative,
                "box": [box.x, box.y, box.width, box.height],
                "model_id": result.embedding.model_id,
                "vector": [round(float(v), 7) for v in result.embedding.vector],
            }
        )
    GOLDEN.write_text(
        json.dumps({"pipeline": "default (build_pipeline())", "faces": entries}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
