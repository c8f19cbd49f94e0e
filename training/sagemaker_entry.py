"""The GPU runner's entrypoint: a SageMaker training job (`createTrainingJob.sync` in the intent
workflow) runs the workflow's `train` step in the training image with SageMaker's conventions:

- hyperparameters (all strings) from `/opt/ml/input/config/hyperparameters.json`:
  `tenant_id`, `version`, `split_key`, `mode`;
- the training split from the `train` channel, `/opt/ml/input/data/train/split.json` (SageMaker
  copies it from S3), else from the BlobStore at `split_key`;
- the trained version is stored in the BlobStore (unpublished, as the Lambda runner does) and its
  files are also written to `/opt/ml/model/` (SageMaker uploads them as the job's artifact),
  with `result.json`;
- on failure, the reason goes to `/opt/ml/output/failure` (SageMaker shows it as the job's
  FailureReason) and the process exits 1.

    python -m training.sagemaker_entry      # in the image: ENTRYPOINT
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

from core.ports import BlobStore, SkillContext

ROOT = Path("/opt/ml")
MAX_FAILURE_CHARS = 1024


def main(root: Path = ROOT, *, blobs: BlobStore | None = None, settings: object = None) -> int:
    """Run the train step under `root` (SageMaker's `/opt/ml`); 0 on success, 1 on failure."""
    try:
        from core.bootstrap import build_blob_store
        from core.settings import get_settings
        from skills.intent.model import PREFIX
        from training.intent_lifecycle import TrainingSplit
        from training.workflow_steps import train

        hyper = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
        if not isinstance(hyper, dict):
            raise ValueError("hyperparameters.json must hold an object")
        settings = settings or get_settings()
        store = blobs or build_blob_store(settings)  # type: ignore[arg-type]
        channel = root / "input" / "data" / "train" / "split.json"
        split = (
            TrainingSplit.from_json(json.loads(channel.read_text())) if channel.exists() else None
        )
        event = {**{k: str(v) for k, v in hyper.items()}, "step": "train", "progress": "true"}
        result = train(event, SkillContext(blobs=store, settings=settings), split=split)
        model_dir = root / "model"
        model_dir.mkdir(parents=True, exist_ok=True)
        tenant_id, version = event["tenant_id"], result["version"]
        base = f"{PREFIX}/{version}/"
        for key in store.list(tenant_id=tenant_id, prefix=base):
            target = model_dir / key[len(base) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(store.get(tenant_id=tenant_id, key=key))
        (model_dir / "result.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({"event": "training_done", **result["metrics"]}), flush=True)
        return 0
    except Exception as exc:
        traceback.print_exc()
        output = root / "output"
        output.mkdir(parents=True, exist_ok=True)
        reason = f"{type(exc).__name__}: {exc}"
        (output / "failure").write_text(reason[:MAX_FAILURE_CHARS])
        return 1


if __name__ == "__main__":
    sys.exit(main())
