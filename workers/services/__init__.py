"""Job handlers: the domain orchestration of each job kind, over `pipelines` and `infra`."""

from __future__ import annotations

from core.jobs import JobKind
from workers.execution import FAILURE_HOOKS, Handler
from workers.services.analyze import compare, detect, embed
from workers.services.batch import chunk_failed, enroll_batch, enroll_chunk
from workers.services.calibration import calibrate
from workers.services.delete import delete_face_set, delete_faces
from workers.services.enroll import enroll
from workers.services.liveness import liveness
from workers.services.persons import delete_person
from workers.services.reindex import drop_previous_vectors, reindex
from workers.services.search import search
from workers.services.update import update_face

HANDLERS: dict[JobKind, Handler] = {
    JobKind.DETECT: detect,
    JobKind.COMPARE: compare,
    JobKind.EMBED: embed,
    JobKind.ENROLL: enroll,
    JobKind.ENROLL_BATCH: enroll_batch,
    JobKind.ENROLL_CHUNK: enroll_chunk,
    JobKind.SEARCH: search,
    JobKind.UPDATE_FACE: update_face,
    JobKind.LIVENESS: liveness,
    JobKind.DELETE_FACES: delete_faces,
    JobKind.DELETE_FACE_SET: delete_face_set,
    JobKind.DELETE_PERSON: delete_person,
    JobKind.CALIBRATE: calibrate,
    JobKind.REINDEX: reindex,
    JobKind.DROP_PREVIOUS_VECTORS: drop_previous_vectors,
}

FAILURE_HOOKS[JobKind.ENROLL_CHUNK] = chunk_failed
