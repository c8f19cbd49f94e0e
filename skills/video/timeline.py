"""From per-frame labels to what a moderator reads: a timeline of labels and the flagged segments.

Each sampled frame stands for the video from its time to the next sampled frame's (the last one
to the end of the video). The timeline joins consecutive frames with the same best label into
spans. A frame is flagged when any of its labels is in the tenant's blocked list with a score at
or above the threshold; consecutive flagged frames form one segment. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FrameLabels:
    """The vision skill's answer for one frame: ranked (label, score) pairs, best first."""

    t: float
    labels: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        return self.labels[0][0]

    @property
    def score(self) -> float:
        return self.labels[0][1]

    def blocked_hits(self, blocked: Collection[str], threshold: float) -> dict[str, float]:
        return {
            label: score for label, score in self.labels if label in blocked and score >= threshold
        }


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    label: str
    score: float  # the highest score of the label in the span
    frames: int


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    labels: list[str]  # the blocked labels seen, sorted
    score: float  # the highest blocked-label score in the segment
    frames: int


@dataclass
class Moderation:
    timeline: list[Span]
    segments: list[Segment]
    frames: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def flagged(self) -> bool:
        return bool(self.segments)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "duration_s": self.duration_s,
            "timeline": [asdict(s) for s in self.timeline],
            "segments": [asdict(s) for s in self.segments],
            "frames": self.frames,
        }


def _ends(frames: Sequence[FrameLabels], duration_s: float) -> list[float]:
    """Where each frame's stretch of video ends: the next frame's time, or the video's end."""
    ends = [frames[i + 1].t for i in range(len(frames) - 1)]
    if frames:
        last = frames[-1].t
        if duration_s > last:
            ends.append(duration_s)
        elif len(frames) > 1:  # unknown length: as long as the stretch before it
            ends.append(last + (last - frames[-2].t))
        else:
            ends.append(last)
    return ends


def build_timeline(frames: Sequence[FrameLabels], *, duration_s: float) -> list[Span]:
    """Consecutive frames with the same best label, joined."""
    spans: list[Span] = []
    ends = _ends(frames, duration_s)
    for frame, end in zip(frames, ends, strict=True):
        if spans and spans[-1].label == frame.label:
            last = spans[-1]
            spans[-1] = Span(
                start=last.start,
                end=end,
                label=last.label,
                score=max(last.score, frame.score),
                frames=last.frames + 1,
            )
        else:
            spans.append(
                Span(start=frame.t, end=end, label=frame.label, score=frame.score, frames=1)
            )
    return spans


def flagged_segments(
    frames: Sequence[FrameLabels],
    *,
    blocked: Collection[str],
    threshold: float,
    duration_s: float,
) -> list[Segment]:
    """Runs of consecutive frames with a blocked label scored at or above `threshold`."""
    blocked = frozenset(blocked)
    segments: list[Segment] = []
    run: list[tuple[FrameLabels, float, dict[str, float]]] = []

    def close() -> None:
        if not run:
            return
        hits: dict[str, float] = {}
        for _, _, found in run:
            for label, score in found.items():
                hits[label] = max(hits.get(label, 0.0), score)
        segments.append(
            Segment(
                start=run[0][0].t,
                end=run[-1][1],
                labels=sorted(hits),
                score=max(hits.values()),
                frames=len(run),
            )
        )
        run.clear()

    for frame, end in zip(frames, _ends(frames, duration_s), strict=True):
        found = frame.blocked_hits(blocked, threshold)
        if found:
            run.append((frame, end, found))
        else:
            close()
    close()
    return segments


def moderate(
    frames: Sequence[FrameLabels],
    *,
    blocked: Collection[str],
    threshold: float,
    duration_s: float,
) -> Moderation:
    """The timeline, the flagged segments, and the per-frame labels."""
    return Moderation(
        timeline=build_timeline(frames, duration_s=duration_s),
        segments=flagged_segments(
            frames, blocked=blocked, threshold=threshold, duration_s=duration_s
        ),
        frames=[{"t": f.t, "label": f.label, "score": f.score} for f in frames],
        duration_s=round(duration_s, 3),
    )
