"""Real dlib-resnet embeddings of the shared identity photos, and synthetic faces drawn from
their distribution, for benchmarks that need far more faces than there are photos.

The real vectors come from FaceFleet's own pipeline (``workers.models.build_pipeline`` with
the configured settings: HOG+BlazeFace detection and the ONNX dlib ResNet), one vector per
photo (its largest face). The synthetic ones follow a two-level Gaussian model fitted to
them, which is how face embeddings are usually described (a "between-identity" spread of
people and a "within-identity" spread of photos of one person):

- each synthetic person's centre ~ N(mean of the real identity centres, Σ_between), where
  Σ_between is the covariance of the real identity centres (the mean vector of each real
  person's photos);
- each of that person's faces = centre + N(0, Σ_within), where Σ_within is the pooled
  covariance of real photos around their own person's centre (people with 2+ photos).

Both covariances are full 128×128 matrices, but there are only 44 people and ~100 within
deviations for 128 dimensions, so each is Ledoit–Wolf shrunk towards a scaled identity
(the shrinkage weight is reported); without that the samples would lie in a 43-dimensional
subspace. The norms are not forced: dlib vectors are not unit vectors, and the model keeps
the real mean and covariance, so it keeps the norms' mean; both norm distributions are
reported so that the match can be checked.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import FACES, progress, quiet_stderr

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RealFaces:
    paths: list[str]
    identities: list[str]
    vectors: Matrix  # one row per path
    model_id: str


def embed_real_faces(cache: Path | None) -> RealFaces:
    """One vector per identity photo of ``identities.csv`` (photos without a face are skipped).

    ``cache`` (under bench/results, never committed) holds the vectors of an earlier run and
    is reused only when it was made from exactly the same photo list and bytes."""
    with (FACES / "identities.csv").open() as listing:
        rows = [(row["path"], row["identity"]) for row in csv.DictReader(listing)]
    fingerprint = hashlib.sha256(b"".join((FACES / path).read_bytes() for path, _ in rows)).hexdigest()
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text())
        if stored["fingerprint"] == fingerprint:
            return RealFaces(stored["paths"], stored["identities"],
                             np.asarray(stored["vectors"], dtype=np.float32), stored["model_id"])

    from infra.settings import Settings
    from pipelines.engine import largest_face
    from pipelines.image import ImageLimits, decode_image
    from workers.models import build_pipeline

    settings = Settings()
    pipeline = build_pipeline(settings)
    paths, identities, vectors = [], [], []
    with quiet_stderr():
        for number, (path, identity) in enumerate(rows, 1):
            results = pipeline.process(decode_image((FACES / path).read_bytes(), ImageLimits()))
            embedding = largest_face(results).embedding if results else None
            if embedding is None:
                progress(f"no face in {path}; left out")
                continue
            paths.append(path)
            identities.append(identity)
            vectors.append(np.asarray(embedding.vector, dtype=np.float32))
            if number % 20 == 0:
                progress(f"embedded {number}/{len(rows)} real photos")
    faces = RealFaces(paths, identities, np.stack(vectors), pipeline.model_id)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"fingerprint": fingerprint, "paths": paths, "identities": identities,
                                     "vectors": faces.vectors.tolist(), "model_id": faces.model_id}))
    return faces


def ledoit_wolf(samples: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], float]:
    """Covariance of centred ``samples`` (rows) shrunk towards ``mu·I``, and the weight used.

    The weight is Ledoit & Wolf's (2004) estimate, written as scikit-learn computes it
    (scikit-learn is not a dependency here)."""
    count, dim = samples.shape
    empirical = samples.T @ samples / count
    squared = samples**2
    variances = squared.sum(axis=0) / count
    mu = variances.sum() / dim
    beta_sum = float(np.sum(squared.T @ squared))
    delta_sum = float(np.sum(empirical**2))
    beta = (beta_sum / count - delta_sum) / (dim * count)
    delta = (delta_sum - 2 * mu * variances.sum() + dim * mu**2) / dim
    weight = 0.0 if delta == 0 else min(beta, delta) / delta
    return (1 - weight) * empirical + weight * mu * np.eye(dim), float(weight)


@dataclass(frozen=True)
class FaceDistribution:
    centre_mean: npt.NDArray[np.float64]
    between_covariance: npt.NDArray[np.float64]
    within_covariance: npt.NDArray[np.float64]
    between_shrinkage: float
    within_shrinkage: float
    identities: int
    within_samples: int

    @classmethod
    def fit(cls, vectors: Matrix, identities: list[str]) -> FaceDistribution:
        data = vectors.astype(np.float64)
        labels = np.array(identities)
        people = sorted(set(identities))
        centres = np.stack([data[labels == person].mean(axis=0) for person in people])
        photo_counts = Counter(identities)
        deviations = np.concatenate(
            [data[labels == person] - centres[i] for i, person in enumerate(people) if photo_counts[person] > 1]
        )
        # Each person's deviations sum to zero, so they carry (photos - 1) degrees of freedom.
        freedom = sum(count - 1 for count in photo_counts.values() if count > 1)
        within, within_weight = ledoit_wolf(deviations * np.sqrt(len(deviations) / freedom))
        centre_mean = centres.mean(axis=0)
        shrunk_centres, between_weight = ledoit_wolf(centres - centre_mean)
        # A real centre is the mean of only n photos, so its spread includes Σ_within / n;
        # taking that out keeps synthetic faces from being more spread (and longer) than real ones.
        mean_inverse_photos = float(np.mean([1 / photo_counts[person] for person in people]))
        between = nearest_positive_definite(shrunk_centres - mean_inverse_photos * within)
        return cls(centre_mean, between, within, between_weight, within_weight, len(people), len(deviations))

    def sample_centres(self, count: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        return rng.multivariate_normal(self.centre_mean, self.between_covariance, size=count, method="cholesky")

    def within_noise(self, count: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
        zero = np.zeros(len(self.centre_mean))
        return rng.multivariate_normal(zero, self.within_covariance, size=count, method="cholesky")

    def sample_faces(
        self, count: int, mean_faces_per_person: float, rng: np.random.Generator
    ) -> tuple[Matrix, npt.NDArray[np.int64]]:
        """``count`` synthetic faces and the synthetic person of each (1 + Poisson faces each)."""
        # More people than needed (each has at least one face), then cut at ``count`` faces.
        sizes = 1 + rng.poisson(mean_faces_per_person - 1, size=count)
        sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), count)) + 1]
        person_of_face = np.repeat(np.arange(len(sizes)), sizes)[:count]
        vectors = np.empty((count, len(self.centre_mean)), dtype=np.float32)
        chunk = 100_000  # keeps the float64 intermediates small
        centres = self.sample_centres(len(sizes), rng)
        for start in range(0, count, chunk):
            stop = min(start + chunk, count)
            vectors[start:stop] = centres[person_of_face[start:stop]] + self.within_noise(stop - start, rng)
        return vectors, person_of_face

    def summary(self) -> dict[str, Any]:
        return {
            "real_identities": self.identities,
            "within_identity_deviations": self.within_samples,
            "between_shrinkage": round(self.between_shrinkage, 4),
            "within_shrinkage": round(self.within_shrinkage, 4),
            "between_total_variance": round(float(np.trace(self.between_covariance)), 4),
            "within_total_variance": round(float(np.trace(self.within_covariance)), 4),
        }


def nearest_positive_definite(matrix: npt.NDArray[np.float64], floor: float = 1e-6) -> npt.NDArray[np.float64]:
    """``matrix`` with its eigenvalues raised to at least ``floor`` (a correction can leave a few
    slightly negative, and a Cholesky factor needs positive ones)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    repaired: npt.NDArray[np.float64] = (vectors * np.maximum(values, floor)) @ vectors.T
    return repaired


def norm_summary(vectors: Matrix) -> dict[str, float]:
    norms = np.linalg.norm(vectors, axis=1)
    return {
        "mean": round(float(norms.mean()), 4),
        "std": round(float(norms.std()), 4),
        "p1": round(float(np.percentile(norms, 1)), 4),
        "p99": round(float(np.percentile(norms, 99)), 4),
    }
