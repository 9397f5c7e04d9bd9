"""Action events from landmark time series, each against an adaptive baseline.

Every action is a *change* of the face, never a level: a still photo (or a photo held
with open mouth, or a face that is turned throughout) produces no event, because each
detector compares the signal with the subject's own baseline in the same clip.

Directions follow ``pipelines.analysis.pose``: yaw > 0 turns the nose to the image's left,
which is the subject's own right in an unmirrored video. ``TURN_LEFT`` is the subject's
own left (yaw decreasing); ``ActionThresholds.mirrored_video`` swaps them for mirrored
recordings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from pipelines.liveness.track import FaceTrack, Series


class Action(StrEnum):
    BLINK = "blink"
    OPEN_MOUTH = "mouth_open"  # the API's name, in requests and answers alike
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    NOD = "nod"


SEED_ACTION_CODES: dict[int, Action] = {1: Action.BLINK, 2: Action.OPEN_MOUTH}
"""Seed 001 ``Action``: 1 blink, 2 open mouth."""


@dataclass(frozen=True, slots=True)
class ActionThresholds:
    blink_ratio: float = 0.58
    """Eyes count as closed below this fraction of the open-eye level (the rolling 80th
    percentile of the eye aspect ratio over ``baseline_seconds``). On the shared clips,
    0.55-0.60 find 21 of 24 marked blinks with 26-30 detections; 0.72 found 16 with 50
    (landmark jitter on small faces and squints) - docs/ANALYSIS.md, "Blink threshold"."""
    blink_max_seconds: float = 0.8
    """A longer closure is a squint or eyes kept shut, not a blink."""
    baseline_seconds: float = 3.0
    mouth_open_mar: float = 0.35
    """Inner-lip opening over mouth width at which the mouth counts as open..."""
    mouth_min_rise: float = 0.2
    """...and it must also exceed the clip's closed-mouth level (20th percentile) by this."""
    turn_degrees: float = 20.0
    """Yaw change from the frontal rest that counts as a head turn."""
    turn_rest_quantile: float = 0.25
    """The frontal rest is the median yaw of the clip's least-turned face frames (this share
    of them, by absolute yaw), and a turn must start from it: a clip that opens turned and
    comes back to frontal has moved towards the camera, not turned away from it."""
    nod_degrees: float = 12.0
    """Pitch drop (chin down) from the start of the clip that counts as a nod; the head
    must then come back up by at least half of it."""
    reference_seconds: float = 1.0
    """The first second of face frames gives the resting pitch for a nod."""
    min_pose_samples: int = 2
    """Consecutive samples beyond a pose threshold (one-sample spikes are landmark noise)."""
    mirrored_video: bool = False
    """The client's camera mirrored the recording (some front-camera apps do): the
    subject's own left then appears as a turn to their right, so the turns swap."""


@dataclass(frozen=True, slots=True)
class ActionEvent:
    action: Action
    first_sample: int
    last_sample: int
    confidence: float
    """0-1: how far past the threshold the signal went (1 = at least 50% further)."""


def find_events(track: FaceTrack, action: Action, thresholds: ActionThresholds) -> list[ActionEvent]:
    fps = track.video.fps / max(1, track.video.stride)  # analysed samples per second
    if action is Action.BLINK:
        return _blinks(track.series("ear"), fps, thresholds)
    if action is Action.OPEN_MOUTH:
        return _mouth_openings(track.series("mar"), thresholds)
    if action in (Action.TURN_LEFT, Action.TURN_RIGHT):
        sign = -1.0 if action is Action.TURN_LEFT else 1.0
        if thresholds.mirrored_video:
            sign = -sign
        return _turns(action, sign * track.series("yaw"), thresholds)
    return _nods(-track.series("pitch"), fps, thresholds)


def _runs(mask: Sequence[bool]) -> list[tuple[int, int]]:
    """(first, last) index of every run of True."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, value in enumerate(mask):
        if value and start is None:
            start = index
        elif not value and start is not None:
            runs.append((start, index - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _rolling_percentile(values: Series, half_window: int, percentile: float) -> Series:
    out = np.full(values.shape, np.nan)
    for index in range(len(values)):
        window = values[max(0, index - half_window) : index + half_window + 1]
        window = window[~np.isnan(window)]
        if window.size:
            out[index] = np.percentile(window, percentile)
    return out


def _confidence(excess_ratio: float) -> float:
    """``excess_ratio`` = how far past the threshold, relative to the threshold's margin."""
    return float(np.clip(0.5 + excess_ratio, 0.0, 1.0))


def _blinks(ear: Series, fps: float, t: ActionThresholds) -> list[ActionEvent]:
    open_level = _rolling_percentile(ear, max(1, round(t.baseline_seconds * fps / 2)), 80.0)
    with np.errstate(invalid="ignore"):
        closed = ear < t.blink_ratio * open_level
        reopened = ear >= t.blink_ratio * open_level
    max_samples = max(1, int(t.blink_max_seconds * fps))
    events = []
    for first, last in _runs(closed.tolist()):
        # A blink closes and reopens: the eyes must be seen open on both sides.
        if last - first + 1 > max_samples or first == 0 or last == len(ear) - 1:
            continue
        if not (reopened[first - 1] and reopened[last + 1]):
            continue
        level = float(np.nanmedian(open_level[first : last + 1]))
        depth = 1.0 - float(np.min(ear[first : last + 1])) / level
        margin = 1.0 - t.blink_ratio
        events.append(ActionEvent(Action.BLINK, first, last, _confidence((depth - margin) / margin)))
    return events


def _mouth_openings(mar: Series, t: ActionThresholds) -> list[ActionEvent]:
    if np.all(np.isnan(mar)):
        return []
    closed_level = float(np.nanpercentile(mar, 20.0))
    threshold = max(t.mouth_open_mar, closed_level + t.mouth_min_rise)
    with np.errstate(invalid="ignore"):
        is_open = mar >= threshold
    events = []
    for first, last in _runs(is_open.tolist()):
        peak = float(np.max(mar[first : last + 1]))
        events.append(
            ActionEvent(Action.OPEN_MOUTH, first, last, _confidence((peak - threshold) / t.mouth_min_rise))
        )
    return events


def _turns(action: Action, signal: Series, t: ActionThresholds) -> list[ActionEvent]:
    """Runs where ``signal`` (yaw, signed towards the asked side) is ``turn_degrees`` past
    the frontal rest, each preceded by a face frame at rest (within half of it)."""
    seen = ~np.isnan(signal)
    if not np.any(seen):
        return []
    turned = np.abs(signal[seen])
    frontal = turned <= np.quantile(turned, t.turn_rest_quantile)
    rest = float(np.median(signal[seen][frontal]))
    change = signal - rest
    with np.errstate(invalid="ignore"):
        at_rest = change <= t.turn_degrees / 2
    return [
        event
        for event in _beyond(action, change, t.turn_degrees, t)
        if bool(np.any(at_rest[: event.first_sample]))
    ]


def _nods(signal: Series, fps: float, t: ActionThresholds) -> list[ActionEvent]:
    """Runs where ``signal`` (chin down) drops ``nod_degrees`` below its resting value (the
    median of the first ``reference_seconds`` of face frames) and comes back up by half."""
    seen = np.flatnonzero(~np.isnan(signal))
    if seen.size == 0:
        return []
    reference_samples = seen[: max(t.min_pose_samples, round(t.reference_seconds * fps))]
    change = signal - float(np.median(signal[reference_samples]))
    with np.errstate(invalid="ignore"):
        back = change <= t.nod_degrees / 2
    return [
        event
        for event in _beyond(Action.NOD, change, t.nod_degrees, t)
        if bool(np.any(back[event.last_sample + 1 :]))
    ]


def _beyond(action: Action, change: Series, degrees: float, t: ActionThresholds) -> list[ActionEvent]:
    """Runs of at least ``min_pose_samples`` where ``change`` is ``degrees`` or more."""
    with np.errstate(invalid="ignore"):
        beyond = change >= degrees
    events = []
    for first, last in _runs(beyond.tolist()):
        if last - first + 1 < t.min_pose_samples:
            continue
        peak = float(np.max(change[first : last + 1]))
        events.append(ActionEvent(action, first, last, _confidence((peak - degrees) / degrees)))
    return events


def match_sequence(
    events: dict[Action, list[ActionEvent]], actions: Sequence[Action]
) -> list[ActionEvent | None]:
    """For each requested action in order, the first of its events that starts after the
    previous action's event ended (``None`` where there is none): a sequence must be
    performed in the order asked."""
    chosen: list[ActionEvent | None] = []
    after = -1
    for action in actions:
        found = next((e for e in events.get(action, []) if e.first_sample > after), None)
        chosen.append(found)
        if found is not None:
            after = found.last_sample
    return chosen
