"""The `lambdesk` command as an operator runs it (a real process over a temporary data dir):
tenants, intent training and prediction on a BANKING77 slice, knowledge, speech, and the errors
an operator meets."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from training.intents import default_negatives

ROOT = Path(__file__).resolve().parents[2]
BANKING77 = ROOT / "demo" / "banking77"


def lambdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("cli-data")
    return {**os.environ, "LAMBDESK_DATA_DIR": str(data), "LAMBDESK_LOG_STDOUT": "false"}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10-intent slice of BANKING77 (train and test rows), and answers for two intents."""
    folder = tmp_path_factory.mktemp("cli-files")
    rows: dict[str, list[str]] = defaultdict(list)
    with (BANKING77 / "train.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows[row["category"]].append(row["text"])
    intents = list(rows)[:10]
    train, test = folder / "train.csv", folder / "test.csv"
    with train.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "intent"])
        for intent in intents:
            writer.writerows([text, intent] for text in rows[intent][:30])
        writer.writerows([text, "out_of_scope"] for text in default_negatives()[:20])
    with test.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "category"])
        for intent in intents:
            writer.writerows([text, intent] for text in rows[intent][30:35])
    responses = folder / "responses.yaml"
    responses.write_text(f"{intents[0]}: First answer.\n{intents[1]}: Second answer.\n")
    return {"train": train, "test": test, "responses": responses, "folder": folder}


def test_tenants_create_prints_keys_once_and_list_shows_the_tenant(env: dict[str, str]) -> None:
    created = lambdesk(
        env, "tenants", "create", "acme", "--name", "Acme", "--allowed-origin", "https://acme.test"
    )
    assert created.returncode == 0, created.stderr
    keys = json.loads(created.stdout)
    assert keys["tenant_id"] == "acme"
    assert keys["admin_key"].startswith("ldk_admin_") and keys["widget_key"].startswith("ldk_pub_")
    listed = [json.loads(line) for line in lambdesk(env, "tenants", "list").stdout.splitlines()]
    assert [(t["tenant_id"], t["allowed_origins"]) for t in listed] == [
        ("acme", ["https://acme.test"])
    ]
    # the plaintext keys are not stored anywhere under the data dir
    for path in Path(env["LAMBDESK_DATA_DIR"]).rglob("*"):
        if path.is_file():
            assert keys["admin_key"].encode() not in path.read_bytes()

    secret = lambdesk(env, "tenants", "callback-secret", "acme")
    assert secret.returncode == 0 and len(secret.stdout.strip()) == 64
    assert lambdesk(env, "tenants", "callback-secret", "nobody").returncode == 2

    again = lambdesk(env, "tenants", "create", "acme")
    assert again.returncode == 2 and "acme" in again.stderr and "Traceback" not in again.stderr
    bad = lambdesk(env, "tenants", "create", "Not_A_Valid_Id")
    assert bad.returncode == 2 and "tenant id" in bad.stderr

    talk = lambdesk(
        env, "tenants", "small-talk", "acme", "--response", "greet", "Welcome to Acme!",
        "--topic", "Orders", "--topic", "Returns", "--language", "de",
    )  # fmt: skip
    assert talk.returncode == 0, talk.stderr
    assert json.loads(talk.stdout) == {
        "tenant_id": "acme",
        "language": "de",
        "act_responses": {"greet": "Welcome to Acme!"},
        "topics": ["Orders", "Returns"],
    }
    reset = lambdesk(env, "tenants", "small-talk", "acme", "--response", "greet", "")
    assert json.loads(reset.stdout)["act_responses"] == {}
    assert json.loads(reset.stdout)["topics"] == ["Orders", "Returns"]  # untouched
    unknown = lambdesk(env, "tenants", "small-talk", "acme", "--response", "hug", "x")
    assert unknown.returncode == 2 and "unknown act" in unknown.stderr


def test_train_then_predict(env: dict[str, str], files: dict[str, Path]) -> None:
    trained = lambdesk(
        env,
        "intents",
        "train",
        "--tenant",
        "acme",
        "--data",
        str(files["train"]),
        "--responses",
        str(files["responses"]),
    )
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["intents"] == 10
    assert summary["negatives_source"] == "examples"  # the out_of_scope rows of the CSV
    assert summary["heldout_accuracy"] > 0.6
    assert "embedding" in trained.stderr  # progress lines when not on a terminal

    out = files["folder"] / "predictions.jsonl"
    predicted = lambdesk(
        env,
        "intents",
        "predict",
        "--tenant",
        "acme",
        "--data",
        str(files["test"]),
        "--out",
        str(out),
    )
    assert predicted.returncode == 0, predicted.stderr
    report = json.loads(predicted.stdout)
    assert report["rows"] == 50
    assert report["accuracy"] > 0.6
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 50
    assert set(lines[0]) == {"text", "intent", "confidence"}
    assert all(0.0 <= line["confidence"] <= 1.0 for line in lines)

    off_topic = files["folder"] / "off_topic.csv"
    off_topic.write_text("text\nWhat's the best pizza topping?\nSing me a song about the sea\n")
    lambdesk(
        env, "intents", "predict", "--tenant", "acme", "--data", str(off_topic), "--out", str(out)
    )
    assert {json.loads(line)["intent"] for line in out.read_text().splitlines()} == {"out_of_scope"}


def test_knowledge_add_and_errors(env: dict[str, str], files: dict[str, Path]) -> None:
    added = lambdesk(env, "knowledge", "add", "--tenant", "acme", str(ROOT / "demo" / "knowledge"))
    assert added.returncode == 0, added.stderr
    docs = json.loads(added.stdout)
    assert len(docs) >= 10 and all(d["chunks"] > 0 for d in docs)
    assert "[1/" in added.stderr

    pdf = files["folder"] / "scan.bin"
    pdf.write_bytes(b"\x00\x01\x02 binary")
    refused = lambdesk(env, "knowledge", "add", "--tenant", "acme", str(pdf))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr

    unknown = lambdesk(env, "knowledge", "add", "--tenant", "nobody", str(pdf))
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_say_writes_speech(env: dict[str, str], files: dict[str, Path]) -> None:
    out = files["folder"] / "hello.ogg"
    spoken = lambdesk(env, "say", "Hello there", "--out", str(out))
    assert spoken.returncode == 0, spoken.stderr
    assert out.read_bytes()[:4] == b"OggS"
    wrong = lambdesk(env, "say", "Hello", "--out", str(files["folder"] / "hello.aiff"))
    assert wrong.returncode == 2
