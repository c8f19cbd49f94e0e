"""Vision model training, evaluation and ONNX export for one tenant (or the shared default).

The recipe is the standard ResNet/CIFAR one: a ResNet-18 with the small-image stem
(`training.resnet`), inputs normalised with the training set's per-channel mean and std,
augmentation by a random 32×32 crop of the image padded by 4 black pixels plus a horizontal flip
(not for digits, where a mirror image changes the class), SGD with Nesterov momentum and weight
decay under a one-cycle learning-rate schedule, and label smoothing. CUDA when present; seeded.

The steps are pure functions with explicit inputs, so a workflow can run them one by one:
`split_heldout` → `fit` → `export_onnx` → `evaluate_onnx` (what serving runs: ONNX Runtime, the
same preprocessing) → `store_version` (publish or not). `train_vision_model` runs them all for a
tenant; `build_default_model` trains the shared default on digits into a directory.
"""

from __future__ import annotations

import io
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from core.ids import new_ulid
from core.models import utcnow
from core.ports import BlobStore
from skills.vision.model import (
    INPUT_NAME,
    OUTPUT_NAME,
    VisionModel,
    default_model_dir,
    save_model,
    write_model_dir,
)
from training.progress import Progress
from training.vision_data import ImageSet, InvalidImageSet, load_digits_set, stratified_split

if TYPE_CHECKING:
    import torch

__all__ = [
    "PRESETS",
    "TrainConfig",
    "VisionTrainResult",
    "build_default_model",
    "classification_metrics",
    "config_for",
    "default_model_dir",
    "evaluate_onnx",
    "export_onnx",
    "fit",
    "split_heldout",
    "store_version",
    "train_and_export",
    "train_vision_model",
]

PAD = 4  # pixels of black padding before the random crop


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1  # the one-cycle schedule's peak
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    width: int = 64  # channels of ResNet-18's first stage (64: the paper's)
    input_size: int = 32
    heldout_fraction: float = 0.2  # when the data has no test split of its own
    augment: bool = True
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu


# Per-source defaults. The packaged sets are small and meant for trying it out on a laptop CPU:
# a quarter-width ResNet-18 (the same 18 layers, 0.7 M parameters) reaches 99% on digits in
# about a minute; CIFAR-10 and a tenant's own photos get the full width (11 M parameters).
PRESETS: dict[str, TrainConfig] = {
    "digits": TrainConfig(epochs=8, batch_size=32, lr=0.05, width=16),
    "animal-mnist": TrainConfig(epochs=6, batch_size=64, lr=0.05, width=16),
    "cifar10": TrainConfig(epochs=30, batch_size=128, lr=0.1, width=64),
    "folder": TrainConfig(epochs=15, batch_size=64, lr=0.05, width=64),
}


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationMetrics:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows: true class,
    columns: predicted class, in `labels` order)."""

    accuracy: float
    macro_f1: float
    per_class: list[ClassMetrics]
    confusion: list[list[int]]
    labels: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evaluation:
    """Metrics plus the raw material a report needs: predictions and confidences per row."""

    metrics: ClassificationMetrics
    y_true: np.ndarray
    y_pred: np.ndarray
    confidence: np.ndarray


@dataclass
class FitHistory:
    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"


class VisionTrainResult(BaseModel):
    """What a training run produced (stored in the version's meta.json as `metrics`, too)."""

    tenant_id: str | None
    version: str
    dataset: str
    labels: list[str]
    n_train: int
    n_heldout: int
    heldout: str  # "test split" (the data's own) or "held out" (a stratified share)
    epochs: int
    width: int
    input_size: int
    device: str
    accuracy: float
    macro_f1: float
    per_class: list[dict[str, Any]]
    confusion: list[list[int]]
    train_seconds: float
    seconds: float
    published: bool
    skipped: dict[str, int] = {}


def _log(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- metrics


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]
) -> ClassificationMetrics:
    """Plain counting (no scikit-learn): precision, recall and F1 are 0 where undefined."""
    n = len(labels)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, np.int64)), 1)
    per_class: list[ClassMetrics] = []
    for i, label in enumerate(labels):
        tp = int(confusion[i, i])
        predicted = int(confusion[:, i].sum())
        support = int(confusion[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            ClassMetrics(
                label=label,
                precision=round(precision, 6),
                recall=round(recall, 6),
                f1=round(f1, 6),
                support=support,
            )
        )
    total = int(confusion.sum())
    present = [c for c in per_class if c.support > 0]
    return ClassificationMetrics(
        accuracy=round(float(np.trace(confusion)) / total, 6) if total else 0.0,
        macro_f1=round(sum(c.f1 for c in present) / len(present), 6) if present else 0.0,
        per_class=per_class,
        confusion=confusion.tolist(),
        labels=list(labels),
    )


# --------------------------------------------------------------------------- data


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images on 0-1 values (std floored: a constant channel
    would divide by zero)."""
    pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
    mean = pixels.mean(axis=0)
    std = np.maximum(pixels.std(axis=0), 1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def split_heldout(data: ImageSet, config: TrainConfig) -> tuple[ImageSet, ImageSet, str]:
    """(train, held-out, how): the data's own test split when it has one, else a stratified
    share of `heldout_fraction` (seeded)."""
    if data.test is not None and len(data.test.labels):
        return data, data.test, "test split"
    train_rows, held_rows = stratified_split(
        data.labels, fraction=config.heldout_fraction, seed=config.seed
    )
    if len(held_rows) == 0:
        raise InvalidImageSet("too few images per class for a held-out set (need two or more)")
    return data.subset(train_rows), data.subset(held_rows), "held out"


# --------------------------------------------------------------------------- training


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _to_tensor(images: np.ndarray, mean: list[float], std: list[float], device: str) -> Any:
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return (x - m) / s


def augment(
    batch: torch.Tensor, *, pad_value: torch.Tensor, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random crop of the batch padded by `PAD` black pixels, then (if `flip`) a horizontal flip
    of a random half. `pad_value` is black in normalised units, one value per channel."""
    import torch

    b, c, h, w = batch.shape
    device = batch.device
    padded = pad_value.view(1, c, 1, 1).expand(b, c, h + 2 * PAD, w + 2 * PAD).clone()
    padded[:, :, PAD : PAD + h, PAD : PAD + w] = batch
    oy = torch.randint(0, 2 * PAD + 1, (b,), generator=generator).to(device)
    ox = torch.randint(0, 2 * PAD + 1, (b,), generator=generator).to(device)
    rows = (oy[:, None] + torch.arange(h, device=device))[:, :, None]  # b×h×1
    cols = (ox[:, None] + torch.arange(w, device=device))[:, None, :]  # b×1×w
    index = torch.arange(b, device=device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[index, rows, cols]  # b×h×w×c
    out = out.permute(0, 3, 1, 2).contiguous()
    if flip:
        mirror = (torch.rand(b, generator=generator) < 0.5).to(device).view(b, 1, 1, 1)
        out = torch.where(mirror, out.flip(3), out)
    return out


def one_cycle(step: int, total: int, *, warmup: float = 0.25) -> float:
    """The learning rate's multiplier at `step` of `total`: a linear warm-up from 0.1 to 1 over
    the first quarter, then a cosine down to 0.001 (a one-cycle schedule, for any length)."""
    import math

    warm = max(1, round(total * warmup))
    if step < warm:
        return 0.1 + 0.9 * step / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return 0.001 + 0.999 * 0.5 * (1.0 + math.cos(math.pi * progress))


def fit(
    train: ImageSet,
    *,
    config: TrainConfig,
    mean: list[float],
    std: list[float],
    progress: bool = True,
) -> tuple[Any, FitHistory]:
    """Train a ResNet-18 on `train` (uint8 images at `config.input_size`); the model on the CPU
    in eval mode, and the per-epoch loss and accuracy."""
    import torch
    from torch import nn

    from training.resnet import resnet18

    if train.size != config.input_size:
        raise ValueError(f"images are {train.size} px; the config says {config.input_size}")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True

    model = resnet18(num_classes=len(train.classes), width=config.width).to(device)
    # channels-last convolutions are 1.5-2× faster on CPU; but torch 2.13's CPU kernels corrupt
    # memory (a crash, or a hang) in the backward pass with fewer than 8 channels
    memory_format = torch.channels_last if config.width >= 8 else torch.contiguous_format
    model = model.to(memory_format=memory_format)  # type: ignore[call-overload]
    x = _to_tensor(train.images, mean, std, device)
    y = torch.from_numpy(train.labels).to(device)
    pad_value = ((torch.zeros(3) - torch.tensor(mean)) / torch.tensor(std)).to(device)
    n = len(y)
    batch_size = max(2, min(config.batch_size, n))
    steps = n // batch_size + (1 if n % batch_size >= 2 else 0)  # a 1-image batch breaks BN
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=True,
    )
    total = config.epochs * steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: one_cycle(step, total))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    history = FitHistory(device=device)
    started = time.perf_counter()
    with Progress(
        total=config.epochs * steps, label=f"training on {device}", enabled=progress, unit="batch"
    ) as bar:
        for epoch in range(config.epochs):
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            loss_sum, correct, seen = 0.0, 0, 0
            for step in range(steps):
                rows = order[step * batch_size : (step + 1) * batch_size]
                inputs = x[rows]
                if config.augment:
                    inputs = augment(
                        inputs, pad_value=pad_value, flip=train.flip, generator=generator
                    )
                logits = model(inputs.contiguous(memory_format=memory_format))
                loss = loss_fn(logits, y[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                loss_sum += float(loss.detach()) * len(rows)
                correct += int((logits.detach().argmax(1) == y[rows]).sum())
                seen += len(rows)
                bar.set_note(f"epoch {epoch + 1}/{config.epochs} loss {loss_sum / seen:.3f}")
                bar.update(1)
            history.epochs.append(
                {
                    "epoch": epoch + 1,
                    "loss": round(loss_sum / max(seen, 1), 5),
                    "train_accuracy": round(correct / max(seen, 1), 5),
                }
            )
    history.seconds = time.perf_counter() - started
    return model.cpu().to(memory_format=torch.contiguous_format).eval(), history


# --------------------------------------------------------------------------- export, evaluation


def export_onnx(model: Any, *, input_size: int) -> bytes:
    """The model as ONNX bytes (opset 17, TorchScript exporter, dynamic batch)."""
    import torch

    model = model.cpu().eval()
    example = torch.zeros(1, 3, input_size, input_size)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to files too
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return buffer.getvalue()


def evaluate_onnx(
    onnx_bytes: bytes, meta: dict[str, Any], data: ImageSet, *, batch_size: int = 256
) -> Evaluation:
    """Evaluate the exported model exactly as the skill runs it (ONNX Runtime, numpy)."""
    model = VisionModel.load(version="evaluation", onnx_bytes=onnx_bytes, meta=meta)
    probabilities = np.concatenate(
        [
            model.probabilities(data.images[i : i + batch_size])
            for i in range(0, len(data.images), batch_size)
        ]
    )
    y_pred = probabilities.argmax(axis=1)
    return Evaluation(
        metrics=classification_metrics(data.labels, y_pred, list(meta["labels"])),
        y_true=data.labels.copy(),
        y_pred=y_pred,
        confidence=probabilities.max(axis=1),
    )


# --------------------------------------------------------------------------- the whole run


@dataclass
class TrainedVision:
    """A trained, exported and evaluated model that is not stored anywhere yet."""

    onnx_bytes: bytes
    meta: dict[str, Any]
    evaluation: Evaluation
    history: FitHistory
    n_train: int
    n_heldout: int
    heldout: str
    config: TrainConfig


def train_and_export(
    data: ImageSet, *, config: TrainConfig, progress: bool = True
) -> TrainedVision:
    """Split, fit, export and evaluate (no storage): the pure core of every training run."""
    if len(data.classes) < 2:
        raise InvalidImageSet("training needs images of at least two classes")
    if data.size != config.input_size:
        raise ValueError(f"images are {data.size} px; the config says {config.input_size}")
    train, heldout, how = split_heldout(data, config)
    mean, std = channel_stats(train.images)
    _log(
        f"training a ResNet-18 (width {config.width}) on {data.name}: {len(train.labels)} "
        f"images, {len(data.classes)} classes, {len(heldout.labels)} {how}",
        progress,
    )
    model, history = fit(train, config=config, mean=mean, std=std, progress=progress)
    onnx_bytes = export_onnx(model, input_size=config.input_size)
    meta: dict[str, Any] = {
        "labels": list(data.classes),
        "input_size": config.input_size,
        "mean": mean,
        "std": std,
        "architecture": "resnet18",
        "stem": "cifar",
        "width": config.width,
        "dataset": data.name,
        "flip": data.flip,
        "config": asdict(config),
    }
    evaluation = evaluate_onnx(onnx_bytes, meta, heldout)
    _log(
        f"{how} accuracy {evaluation.metrics.accuracy:.4f}, macro F1 "
        f"{evaluation.metrics.macro_f1:.4f} ({history.seconds:.0f} s of training "
        f"on {history.device})",
        progress,
    )
    return TrainedVision(
        onnx_bytes=onnx_bytes,
        meta=meta,
        evaluation=evaluation,
        history=history,
        n_train=len(train.labels),
        n_heldout=len(heldout.labels),
        heldout=how,
        config=config,
    )


def _result(
    trained: TrainedVision,
    *,
    tenant_id: str | None,
    version: str,
    dataset: ImageSet,
    seconds: float,
    published: bool,
) -> VisionTrainResult:
    metrics = trained.evaluation.metrics
    return VisionTrainResult(
        tenant_id=tenant_id,
        version=version,
        dataset=dataset.name,
        labels=list(dataset.classes),
        n_train=trained.n_train,
        n_heldout=trained.n_heldout,
        heldout=trained.heldout,
        epochs=trained.config.epochs,
        width=trained.config.width,
        input_size=trained.config.input_size,
        device=trained.history.device,
        accuracy=metrics.accuracy,
        macro_f1=metrics.macro_f1,
        per_class=[asdict(c) for c in metrics.per_class],
        confusion=metrics.confusion,
        train_seconds=round(trained.history.seconds, 3),
        seconds=round(seconds, 3),
        published=published,
        skipped=dict(dataset.skipped),
    )


def _stamped_meta(trained: TrainedVision, result: VisionTrainResult) -> dict[str, Any]:
    return {
        **trained.meta,
        "created_at": utcnow().isoformat(),
        "metrics": result.model_dump(mode="json", exclude={"labels"}),
        "history": trained.history.epochs,
    }


def store_version(
    *,
    tenant_id: str,
    blobs: BlobStore,
    trained: TrainedVision,
    dataset: ImageSet,
    seconds: float,
    publish: bool = True,
) -> VisionTrainResult:
    """Store the trained model as a new version under `models/vision/<version>/`; with
    `publish`, move CURRENT to it (written last)."""
    version = new_ulid()
    result = _result(
        trained,
        tenant_id=tenant_id,
        version=version,
        dataset=dataset,
        seconds=seconds,
        published=publish,
    )
    save_model(
        tenant_id=tenant_id,
        blobs=blobs,
        version=version,
        onnx_bytes=trained.onnx_bytes,
        meta=_stamped_meta(trained, result),
        publish=publish,
    )
    return result


def config_for(source: str, **overrides: Any) -> TrainConfig:
    """The preset of a data source (`digits`, `animal-mnist`, `cifar10`, `folder`) with the
    given fields replaced (None values keep the preset's)."""
    base = PRESETS.get(source, TrainConfig())
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def train_vision_model(
    *,
    tenant_id: str,
    data: ImageSet,
    blobs: BlobStore,
    config: TrainConfig,
    progress: bool = True,
    publish: bool = True,
) -> VisionTrainResult:
    """Train on `data`, store a new version for the tenant and (by default) publish it."""
    started = time.perf_counter()
    trained = train_and_export(data, config=config, progress=progress)
    result = store_version(
        tenant_id=tenant_id,
        blobs=blobs,
        trained=trained,
        dataset=data,
        seconds=time.perf_counter() - started,
        publish=publish,
    )
    _log(f"stored vision model {result.version} for {tenant_id}", progress)
    return result


def build_default_model(
    directory: Path, *, config: TrainConfig | None = None, progress: bool = True
) -> VisionTrainResult:
    """Train the shared default model (digits) into `directory` (model.onnx + meta.json)."""
    started = time.perf_counter()
    config = config or PRESETS["digits"]
    data = load_digits_set(size=config.input_size)
    trained = train_and_export(data, config=config, progress=progress)
    version = new_ulid()
    result = _result(
        trained,
        tenant_id=None,
        version=version,
        dataset=data,
        seconds=time.perf_counter() - started,
        published=True,
    )
    write_model_dir(
        Path(directory),
        onnx_bytes=trained.onnx_bytes,
        meta=_stamped_meta(trained, result) | {"version": version},
    )
    _log(f"stored the default vision model {version} in {directory}", progress)
    return result
