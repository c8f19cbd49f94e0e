"""Vision benchmark, each figure beside a baseline measured in the same run (these machines are
noisy: read the ratios):

- test accuracy and training time of the ResNet-18 recipe on digits and on animal-mnist (the
  presets of `training.vision`), beside a logistic regression on the same raw pixels, on the same
  held-out rows;
- the vision function's cold start: a fresh process that imports the Lambda handler and answers
  one event (reporting whether torch was imported), beside a fresh process that only imports
  numpy and onnxruntime;
- warm classify latency of the skill (p50/p99) for a small PNG and a 640×480 JPEG photo, beside
  decoding the same bytes alone;
- video moderation speed: seconds of processing per minute of video (frame sampling at 1 frame/s
  plus classification through the in-process invoker), beside sampling alone;
- through the API (`lambdesk serve` in a fresh process, over HTTP): warm
  `POST /v1/images/classify` latency (p50/p99) for a raw PNG, the JSON base64 form and a
  640×480 JPEG, beside `GET /healthz` on the same server; and a video moderation job
  (`POST /v1/videos/moderate?wait=`) in seconds per minute of video.

    .venv/bin/python bench/vision.py [--datasets digits,animal-mnist] [--epochs N] [--runs 5]

One figure per line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before anything imports torch

HANDLER = """
import base64, json, sys, time
started = time.perf_counter()
from skills.vision.handler import handler
answer = handler({"tenant_id": "bench", "image_b64": sys.argv[1]}, None)
elapsed = (time.perf_counter() - started) * 1000
print(json.dumps({"ms": elapsed, "torch": "torch" in sys.modules, "label": answer["label"]}))
"""
FLOOR = """
import time
started = time.perf_counter()
import numpy, onnxruntime
print((time.perf_counter() - started) * 1000)
"""


def figure(name: str, value: Any) -> None:
    print(f"{name}={value}", flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# --------------------------------------------------------------------------- accuracy


def logistic_baseline(train: Any, test: Any) -> tuple[float, float]:
    """(accuracy, seconds) of a logistic regression on the raw pixels (0-1)."""
    from sklearn.linear_model import LogisticRegression

    x_train = train.images.reshape(len(train.images), -1).astype(np.float32) / 255.0
    x_test = test.images.reshape(len(test.images), -1).astype(np.float32) / 255.0
    started = time.perf_counter()
    model = LogisticRegression(max_iter=1000)
    model.fit(x_train, train.labels)
    seconds = time.perf_counter() - started
    return float((model.predict(x_test) == test.labels).mean()), seconds


def accuracy(name: str, epochs: int | None) -> Any:
    from training.vision import config_for, split_heldout, train_and_export
    from training.vision_data import load_animal_mnist, load_digits_set

    config = config_for(name, epochs=epochs)
    data = load_digits_set() if name == "digits" else load_animal_mnist()
    train, test, _ = split_heldout(data, config)
    trained = train_and_export(data, config=config, progress=True)
    lr_accuracy, lr_seconds = logistic_baseline(train, test)
    key = name.replace("-", "_")
    figure(f"{key}_resnet18_width", config.width)
    figure(f"{key}_resnet18_epochs", config.epochs)
    figure(f"{key}_resnet18_test_accuracy", f"{trained.evaluation.metrics.accuracy:.4f}")
    figure(f"{key}_resnet18_macro_f1", f"{trained.evaluation.metrics.macro_f1:.4f}")
    figure(f"{key}_resnet18_train_s", f"{trained.history.seconds:.1f}")
    figure(f"{key}_logreg_test_accuracy", f"{lr_accuracy:.4f}")
    figure(f"{key}_logreg_train_s", f"{lr_seconds:.1f}")
    figure(f"{key}_test_rows", len(test.labels))
    return trained


# --------------------------------------------------------------------------- serving


def run_python(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def encode_png(array: np.ndarray) -> bytes:
    from core.images import encode_png as encode

    return encode(array)


def photo(seed: int = 0) -> np.ndarray:
    """A 640×480 image with smooth gradients and noise (JPEG-compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640]
    base = np.stack([x / 640 * 255, y / 480 * 255, (x + y) / 1120 * 255], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def cold_start(env: dict[str, str], image_b64: str, runs: int) -> None:
    calls = [json.loads(run_python(HANDLER, env, image_b64)) for _ in range(runs)]
    floor = [float(run_python(FLOOR, env)) for _ in range(runs)]
    cold = statistics.median(c["ms"] for c in calls)
    figure("vision_cold_start_ms", f"{cold:.0f}")
    figure("vision_cold_start_imported_torch", any(c["torch"] for c in calls))
    figure("numpy_onnxruntime_import_ms", f"{statistics.median(floor):.0f}")
    figure("vision_cold_over_import_floor", f"{cold / statistics.median(floor):.2f}")


def warm_latency(ctx: Any, runs: int) -> None:
    from core.images import encode_jpeg, open_image
    from skills.vision.skill import run

    cases = {
        "png_32px": encode_png(photo()[:32, :32]),
        "jpeg_640x480": encode_jpeg(photo(), quality=90),
    }
    for name, data in cases.items():
        event = {"tenant_id": "bench", "image_b64": base64.b64encode(data).decode()}
        run(event, ctx)  # warm: model loaded, CURRENT read
        times, decode = [], []
        for _ in range(runs):
            started = time.perf_counter()
            run(event, ctx)
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            open_image(data, draft=32)
            decode.append((time.perf_counter() - started) * 1000)
        figure(f"classify_{name}_p50_ms", f"{percentile(times, 50):.2f}")
        figure(f"classify_{name}_p99_ms", f"{percentile(times, 99):.2f}")
        figure(f"decode_only_{name}_p50_ms", f"{percentile(decode, 50):.2f}")


def bench_video(seconds: int) -> bytes:
    """`seconds` of 640×360 H.264 at 25 fps: a moving photo-like picture."""
    from fractions import Fraction

    import av

    fps = 25
    buffer = io.BytesIO()
    base = photo()[:360]
    with av.open(buffer, mode="w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for index in range(seconds * fps):
            shifted = np.roll(base, index * 4, axis=1)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(shifted))
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def video_speed(ctx: Any, seconds: int) -> None:
    from infra.local.inprocess_skill_invoker import InProcessSkillInvoker
    from skills.video.frames import sample_frames
    from skills.video.moderation import ModerationOptions, moderate_video

    data = bench_video(seconds)
    started = time.perf_counter()
    sample = sample_frames(data)
    sampled = time.perf_counter() - started
    invoker = InProcessSkillInvoker(ctx, workers=2)
    try:
        started = time.perf_counter()
        result = asyncio.run(
            moderate_video(
                tenant_id="bench",
                data=data,
                skills=invoker,
                options=ModerationOptions(blocked=("0",), threshold=0.5),
            )
        )
        total = time.perf_counter() - started
    finally:
        invoker.close()
    per_minute = 60.0 / seconds
    figure("video_seconds", seconds)
    figure("video_frames_sampled", len(sample.frames))
    figure("video_moderation_s_per_video_minute", f"{total * per_minute:.2f}")
    figure("video_sampling_only_s_per_video_minute", f"{sampled * per_minute:.2f}")
    figure("video_flagged_segments", len(result["segments"]))


# --------------------------------------------------------------------------- through the API


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(client: Any, runs: int, send: Any) -> list[float]:
    send()  # warm: the route, the model, CURRENT
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        response = send()
        out.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text[:300]}")
    return out


def through_the_api(data_dir: Path, env: dict[str, str], runs: int, video_seconds: int) -> None:
    """A `lambdesk serve` process over `data_dir` (tenant `bench` with its digits model)."""
    import httpx

    from core.auth import create_tenant_with_keys
    from core.bootstrap import build_services
    from core.images import encode_jpeg
    from core.models import Tenant
    from core.settings import Settings

    services = build_services(Settings(data_dir=data_dir, log_stdout=False, warmup=False))
    _, admin_key, _ = create_tenant_with_keys(
        tenants=services.tenants, tenant=Tenant(tenant_id="bench", blocked_labels=["0"])
    )
    services.close()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**env, "LAMBDESK_WARMUP": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {admin_key}"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        png = encode_png(photo()[:32, :32])
        jpeg = encode_jpeg(photo(), quality=90)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            cases = {
                "healthz": lambda: client.get("/healthz"),
                "api_classify_png_32px": lambda: client.post(
                    "/v1/images/classify", content=png, headers={"Content-Type": "image/png"}
                ),
                "api_classify_json_b64_32px": lambda: client.post(
                    "/v1/images/classify", json={"image_b64": base64.b64encode(png).decode()}
                ),
                "api_classify_jpeg_640x480": lambda: client.post(
                    "/v1/images/classify", content=jpeg, headers={"Content-Type": "image/jpeg"}
                ),
            }
            p50: dict[str, float] = {}
            for name, send in cases.items():
                times = timed(client, runs, send)
                p50[name] = percentile(times, 50)
                figure(f"{name}_p50_ms", f"{p50[name]:.2f}")
                figure(f"{name}_p99_ms", f"{percentile(times, 99):.2f}")
            figure(
                "api_classify_png_over_healthz_p50",
                f"{p50['api_classify_png_32px'] / p50['healthz']:.2f}",
            )
            video = bench_video(video_seconds)
            started = time.perf_counter()
            job = client.post(
                "/v1/videos/moderate?wait=30",
                content=video,
                headers={"Content-Type": "video/mp4"},
            ).json()
            while job.get("status") not in ("succeeded", "failed"):
                time.sleep(0.1)
                job = client.get(f"/v1/jobs/{job['job_id']}").json()
            total = time.perf_counter() - started
            if job["status"] != "succeeded":
                raise SystemExit(f"video job failed: {job.get('error')}")
            figure("api_video_job_s_per_video_minute", f"{total * 60.0 / video_seconds:.2f}")
            figure("api_video_job_frames_sampled", job["frames_sampled"])
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--datasets", default="digits,animal-mnist")
    parser.add_argument("--epochs", type=int, help="override the presets' epochs (quick runs)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes for the cold start")
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--video-seconds", type=int, default=30)
    args = parser.parse_args()

    names = [n for n in args.datasets.split(",") if n]
    trained: dict[str, Any] = {}
    for name in names:
        trained[name] = accuracy(name, args.epochs)

    from core.ports import SkillContext
    from core.settings import Settings
    from infra.local.filesystem_blob_store import FilesystemBlobStore
    from training.vision import config_for, store_version, train_and_export
    from training.vision_data import load_digits_set

    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        blobs = FilesystemBlobStore(root=data_dir / "blobs")
        digits = load_digits_set()
        model = trained.get("digits")
        if model is None:  # serving figures need some model: a one-epoch digits one will do
            model = train_and_export(digits, config=config_for("digits", epochs=1), progress=False)
        store_version(tenant_id="bench", blobs=blobs, trained=model, dataset=digits, seconds=0.0)
        settings = Settings(data_dir=data_dir, log_stdout=False)
        ctx = SkillContext(blobs=blobs, settings=settings)
        env = {**os.environ, "LAMBDESK_DATA_DIR": str(data_dir), "LAMBDESK_LOG_STDOUT": "false"}
        image = base64.b64encode(encode_png(photo()[:32, :32])).decode()
        cold_start(env, image, args.runs)
        warm_latency(ctx, args.latency_runs)
        video_speed(ctx, args.video_seconds)
        through_the_api(data_dir, env, args.latency_runs, args.video_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
