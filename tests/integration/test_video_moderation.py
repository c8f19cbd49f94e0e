"""Video moderation on videos generated with PyAV (solid-colour stretches whose classes are
known): the frame sampler's modes, formats and hard bounds, and the whole path — frames, the
vision skill through the in-process invoker, the timeline and the flagged segments."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import skills.video.frames as frames_module
import skills.vision.skill as vision_skill
from core.errors import LambdeskError
from core.ports import SkillContext
from core.settings import Settings
from infra.local.filesystem_blob_store import FilesystemBlobStore
from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
from skills.video.frames import SampleOptions, probe_video, sample_frames
from skills.video.moderation import ModerationOptions, moderate_video
from skills.vision.model import ModelCache, save_model
from tests.vision_fixtures import colour_onnx, encode, make_video, solid

RED = (220, 30, 30)
GREEN = (30, 200, 40)
BLUE = (30, 40, 220)
STRETCHES = [(RED, 2.0), (GREEN, 2.0), (BLUE, 2.0)]


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return make_video(STRETCHES)


def dominant(image: object) -> str:
    import numpy as np

    means = np.asarray(image).reshape(-1, 3).mean(axis=0)
    return ("red", "green", "blue")[int(means.argmax())]


def test_one_frame_per_second_by_default(mp4: bytes) -> None:
    sample = sample_frames(mp4)
    assert [f.t for f in sample.frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [dominant(f.image) for f in sample.frames] == ["red"] * 2 + ["green"] * 2 + ["blue"] * 2
    assert sample.duration_s == pytest.approx(6.0) and not sample.truncated
    assert sample.frames[0].image.shape == (48, 64, 3)
    info = probe_video(mp4)
    assert (info.format, info.width, info.height) == ("mp4", 64, 48)


def test_scene_changes_pick_one_frame_per_shot(mp4: bytes) -> None:
    sample = sample_frames(mp4, SampleOptions(mode="scene"))
    assert [f.t for f in sample.frames] == [0.0, 2.0, 4.0]
    assert [dominant(f.image) for f in sample.frames] == ["red", "green", "blue"]


def test_a_long_still_shot_is_still_looked_at_in_scene_mode() -> None:
    video = make_video([(RED, 5.0)], fps=5)
    sample = sample_frames(video, SampleOptions(mode="scene", scene_max_gap_s=2.0))
    assert [f.t for f in sample.frames] == [0.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("container", "codec", "name"),
    [("webm", "libvpx", "webm"), ("mov", "libx264", "mp4")],
)
def test_webm_and_mov(container: str, codec: str, name: str) -> None:
    video = make_video([(GREEN, 1.0), (BLUE, 1.0)], container=container, codec=codec)
    sample = sample_frames(video)
    assert sample.info.format == name
    assert [dominant(f.image) for f in sample.frames] == ["green", "blue"]


def test_frames_are_scaled_to_the_frame_side() -> None:
    video = make_video([(RED, 1.0)], width=320, height=180)
    (frame,) = sample_frames(video, SampleOptions(frame_side=64)).frames
    assert frame.image.shape == (36, 64, 3)


def test_decoding_stops_at_the_frame_limit(mp4: bytes) -> None:
    sample = sample_frames(mp4, SampleOptions(max_frames=3))
    assert len(sample.frames) == 3 and sample.stop_reason == "frames" and sample.truncated


def test_decoding_stops_at_the_duration_limit(mp4: bytes) -> None:
    sample = sample_frames(mp4, SampleOptions(max_seconds=2.5))
    assert [f.t for f in sample.frames] == [0.0, 1.0, 2.0]
    assert sample.stop_reason == "duration" and sample.duration_s < 2.5


def test_decoding_stops_at_the_time_limit(mp4: bytes) -> None:
    ticks = itertools.count(0.0, 1.0)  # every call of the clock is a second later
    sample = sample_frames(mp4, SampleOptions(max_decode_s=10.0), clock=lambda: next(ticks))
    assert sample.stop_reason == "time" and 0 < len(sample.frames) < 6


def test_what_is_not_a_video_is_refused(mp4: bytes) -> None:
    with pytest.raises(LambdeskError) as caught:
        sample_frames(encode(solid(RED), "PNG"))
    assert caught.value.status == 415
    with pytest.raises(LambdeskError) as caught:
        sample_frames(b"just some text, no video here")
    assert caught.value.status == 415
    with pytest.raises(LambdeskError) as caught:
        sample_frames(mp4, max_bytes=len(mp4) - 1)
    assert caught.value.status == 413


def test_a_file_without_video_is_unprocessable(tmp_path: Path) -> None:
    import av
    import numpy as np

    target = tmp_path / "audio.mp4"
    with av.open(str(target), mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in itertools.chain(stream.encode(frame), stream.encode(None)):
            output.mux(packet)
    with pytest.raises(LambdeskError) as caught:
        sample_frames(target.read_bytes())
    assert caught.value.status == 422


def test_frames_over_4k_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "MAX_FRAME_PIXELS", 64 * 48 - 1)
    with pytest.raises(LambdeskError) as caught:
        sample_frames(make_video([(RED, 1.0)]))
    assert caught.value.status == 413


def test_a_cut_video_keeps_what_decoded_or_says_it_cannot(mp4: bytes) -> None:
    try:
        sample = sample_frames(mp4[: len(mp4) // 2])
    except LambdeskError as exc:
        assert exc.status in (415, 422)
    else:
        assert len(sample.frames) <= 6


# --------------------------------------------------------------------------- the whole path


@pytest.fixture
def invoker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessSkillInvoker]:
    monkeypatch.setattr(vision_skill, "_models", ModelCache())
    blobs = FilesystemBlobStore(root=tmp_path / "blobs")
    onnx_bytes, meta = colour_onnx()
    save_model(tenant_id="acme", blobs=blobs, version="v1", onnx_bytes=onnx_bytes, meta=meta)
    settings = Settings(data_dir=tmp_path / "data", log_stdout=False)
    invoker = InProcessSkillInvoker(SkillContext(blobs=blobs, settings=settings), workers=2)
    yield invoker
    invoker.close()


def test_moderation_flags_the_blocked_stretch(mp4: bytes, invoker: InProcessSkillInvoker) -> None:
    options = ModerationOptions(blocked=("red",), threshold=0.8, batch_size=4)
    result = asyncio.run(
        moderate_video(tenant_id="acme", data=mp4, skills=invoker, options=options)
    )
    assert [(s["label"], s["start"], s["end"]) for s in result["timeline"]] == [
        ("red", 0.0, 2.0),
        ("green", 2.0, 4.0),
        ("blue", 4.0, 6.0),
    ]
    assert [(s["start"], s["end"], s["labels"]) for s in result["segments"]] == [
        (0.0, 2.0, ["red"])
    ]
    assert result["flagged"] is True and result["frames_sampled"] == 6
    assert result["model_version"] == "v1" and result["truncated"] is False


def test_scene_mode_and_a_clean_video(invoker: InProcessSkillInvoker) -> None:
    video = make_video([(GREEN, 1.0), (BLUE, 2.0), (GREEN, 1.0)])
    options = ModerationOptions(
        blocked=("blue",), threshold=0.5, sample=SampleOptions(mode="scene")
    )
    result = asyncio.run(
        moderate_video(tenant_id="acme", data=video, skills=invoker, options=options)
    )
    assert [f["t"] for f in result["frames"]] == [0.0, 1.0, 3.0]
    assert [(s["start"], s["end"]) for s in result["segments"]] == [(1.0, 3.0)]
    clean = asyncio.run(
        moderate_video(
            tenant_id="acme",
            data=video,
            skills=invoker,
            options=ModerationOptions(blocked=("red",)),
        )
    )
    assert clean["flagged"] is False and clean["segments"] == []
