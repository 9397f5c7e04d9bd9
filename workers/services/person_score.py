"""The person-level score of a search grouped by person: the mean similarity of the
probe to the person's ``PERSON_SCORE_TOP_K`` most similar faces, over all of the person's
faces in the face set (not only those among the nearest candidates).

Measured on the persons of ../shared/data/faces/pairs.csv (``bench.person_score``, 98
leave-one-out probes, docs/API.md "Persons"): the mean of the top 3 separates true from
false persons best (equal error rate 0.14 % against 0.17 % for the best face alone), while
the best face ranked the true person first once more (97 of 98 against 96). Results stay
ordered by their best face; ``person_score`` is the number to threshold a person decision on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.results import Match
from infra.db.persons import PersonRepo
from workers.execution import JobContext

PERSON_SCORE_TOP_K = 3
# Persons scored per probe: a person-level score reads every face of each, so a very
# large top_n does not turn one search into thousands of reads.
MAX_SCORED_PERSONS = 100


def person_score(similarities: list[float], top_k: int = PERSON_SCORE_TOP_K) -> float:
    ordered = sorted(similarities, reverse=True)[:top_k]
    return float(np.mean(ordered))


def add_person_scores(
    ctx: JobContext,
    project_id: str,
    face_set_id: str,
    probe: np.ndarray,
    matches: list[Match],
    model_id: str,
    similarity: Callable[[float], float],
) -> list[Match]:
    """Each match with ``person_score`` and ``person_faces`` (how many faces it used); a
    face without a user_id is a person of one face."""
    runtime = ctx.runtime
    user_ids = [str(match.user_id) for match in matches[:MAX_SCORED_PERSONS] if match.user_id]
    faces_of = PersonRepo(runtime.database).face_ids_of(project_id, face_set_id, user_ids) if user_ids else {}
    all_ids = [face_id for ids in faces_of.values() for face_id in ids]
    vectors = runtime.index.get_vectors(model_id, all_ids) if all_ids else {}
    scored: list[Match] = []
    for match in matches:
        ids = faces_of.get(str(match.user_id), []) if match.user_id else []
        sims = [
            similarity(float(np.linalg.norm(probe - vectors[face_id])))
            for face_id in ids
            if face_id in vectors
        ]
        if not sims:
            sims = [float(match.similarity)]
        scored.append(match.model_copy(update={"person_score": round(person_score(sims), 6), "person_faces": len(sims)}))
    return scored
