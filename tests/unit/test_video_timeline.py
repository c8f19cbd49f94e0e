"""Per-frame labels → a timeline of spans and the flagged segments (blocked label at or above the
threshold), including the edges: the last frame, unknown length, a blocked label that is not the
best one, and segments split by a clean frame."""

from __future__ import annotations

from skills.video.timeline import FrameLabels, Segment, Span, build_timeline, moderate


def frames(*labels: tuple[float, str, float]) -> list[FrameLabels]:
    return [
        FrameLabels(t=t, labels=((label, score), ("other", 1 - score)))
        for t, label, score in labels
    ]


def test_consecutive_equal_labels_join_into_spans() -> None:
    timeline = build_timeline(
        frames((0, "cat", 0.9), (1, "cat", 0.8), (2, "dog", 0.7), (3, "cat", 0.6)), duration_s=4.5
    )
    assert timeline == [
        Span(start=0, end=2, label="cat", score=0.9, frames=2),
        Span(start=2, end=3, label="dog", score=0.7, frames=1),
        Span(start=3, end=4.5, label="cat", score=0.6, frames=1),
    ]


def test_flagged_frames_form_segments_split_by_clean_frames() -> None:
    result = moderate(
        frames(
            (0, "cat", 0.9),
            (1, "weapon", 0.8),
            (2, "blood", 0.95),
            (3, "cat", 0.9),
            (4, "weapon", 0.7),
        ),
        blocked={"weapon", "blood"},
        threshold=0.6,
        duration_s=5.0,
    )
    assert result.flagged
    assert result.segments == [
        Segment(start=1, end=3, labels=["blood", "weapon"], score=0.95, frames=2),
        Segment(start=4, end=5.0, labels=["weapon"], score=0.7, frames=1),
    ]


def test_below_the_threshold_nothing_is_flagged() -> None:
    result = moderate(
        frames((0, "weapon", 0.55), (1, "weapon", 0.59)),
        blocked={"weapon"},
        threshold=0.6,
        duration_s=2.0,
    )
    assert result.segments == [] and not result.flagged
    assert [s.label for s in result.timeline] == ["weapon"]


def test_a_blocked_label_below_the_best_one_still_counts() -> None:
    frame = FrameLabels(t=0.0, labels=(("cat", 0.5), ("weapon", 0.45)))
    result = moderate([frame], blocked={"weapon"}, threshold=0.4, duration_s=1.0)
    assert result.segments == [Segment(start=0.0, end=1.0, labels=["weapon"], score=0.45, frames=1)]


def test_without_a_known_length_the_last_frame_lasts_like_the_one_before() -> None:
    result = moderate(
        frames((0, "cat", 0.9), (2, "weapon", 0.9)), blocked={"weapon"}, threshold=0.5, duration_s=0
    )
    assert result.segments[0].start == 2 and result.segments[0].end == 4


def test_no_frames_no_timeline() -> None:
    result = moderate([], blocked={"weapon"}, threshold=0.5, duration_s=3.0)
    assert result.timeline == [] and result.segments == []
    assert result.as_dict()["flagged"] is False
