"""The `lambdesk` command: operator and training commands over the configured backend.

    lambdesk tenants create <id> [--name N] [--allowed-origin URL]...   keys are printed once
    lambdesk tenants list
    lambdesk tenants callback-secret <id>           the key of its X-Lambdesk-Signature
    lambdesk tenants identity-secret <id>           the key its server signs widget user ids with
    lambdesk intents train --tenant T --data FILE.csv [--responses FILE.yaml]
                           [--mode frozen|finetune] [--force] [--report DIR]
    lambdesk intents eval --tenant T --data FILE.csv [--report DIR] [--json] [--version V]
    lambdesk intents versions --tenant T
    lambdesk intents rollback --tenant T [--to VERSION]
    lambdesk intents predict --tenant T --data FILE.csv --out FILE.jsonl
    lambdesk workflow run intents --tenant T --data FILE.csv [--mode M] [--force]
                                  [--runner lambda|sagemaker]
    lambdesk workflow run vision --tenant T (--dataset NAME [--data-dir DIR] | --data DIR)
                                 [--epochs N] [--width W] [--force]
    lambdesk knowledge add --tenant T PATH...
    lambdesk vision train --tenant T (--data DIR | --dataset cifar10 --data-dir DIR
                          | --dataset digits | --dataset animal-mnist) [--epochs N]
    lambdesk vision default                         the model of tenants without their own
    lambdesk vision classify --tenant T IMAGE...
    lambdesk say TEXT --out FILE.ogg                speaks TEXT (a voice message to try)
    lambdesk serve [--host H] [--port P]
    lambdesk demo                                   prepares the demo tenant (first run only)

A thin entrypoint like `api/`: each command parses, calls service functions, prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import commands, vision


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdesk", description="Multi-tenant AI customer-service chatbot backend."
    )
    sub = parser.add_subparsers(dest="group", required=True)

    tenants = sub.add_parser("tenants", help="create and list tenants").add_subparsers(
        dest="command", required=True
    )
    create = tenants.add_parser("create", help="create a tenant and print its keys once (JSON)")
    create.add_argument("tenant_id")
    create.add_argument("--name", default="")
    create.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        dest="allowed_origins",
        metavar="URL",
        help="web origin allowed to use the widget key (repeatable)",
    )
    create.set_defaults(func=commands.tenants_create)
    tenants.add_parser("list", help="list tenants (JSON lines)").set_defaults(
        func=commands.tenants_list
    )
    secret = tenants.add_parser(
        "callback-secret", help="print the secret a tenant verifies voice-job callbacks with"
    )
    secret.add_argument("tenant_id")
    secret.set_defaults(func=commands.tenants_callback_secret)
    identity = tenants.add_parser(
        "identity-secret",
        help="print the secret a tenant's server signs widget user ids with (HMAC-SHA256)",
    )
    identity.add_argument("tenant_id")
    identity.set_defaults(func=commands.tenants_identity_secret)
    talk = tenants.add_parser(
        "small-talk",
        help="set what the bot says to small talk: act responses, the topics 'what can you do?' "
        "lists, the customers' language (prints the settings as JSON)",
    )
    talk.add_argument("tenant_id")
    talk.add_argument(
        "--response",
        nargs=2,
        action="append",
        default=[],
        metavar=("ACT", "TEXT"),
        help="the response to a dialogue act (greet, thanks, goodbye, are_you_a_bot, "
        "what_can_you_do, affirm, deny, abuse); an empty TEXT restores the default (repeatable)",
    )
    talk.add_argument(
        "--topic", action="append", default=None, dest="topics", help="a topic (repeatable)"
    )
    talk.add_argument("--language", default=None, help="ISO 639-1 code of the default responses")
    talk.set_defaults(func=commands.tenants_small_talk)

    intents = sub.add_parser("intents", help="train and try the intent model").add_subparsers(
        dest="command", required=True
    )
    train = intents.add_parser("train", help="train the tenant's intent model from a CSV")
    train.add_argument("--tenant", required=True)
    train.add_argument("--data", required=True, help="CSV with columns text,intent (or category)")
    train.add_argument("--responses", help="YAML mapping intent -> written answer")
    train.add_argument(
        "--mode",
        choices=["frozen", "finetune"],
        help="frozen: a head on the packaged encoder (fast); finetune: the encoder too "
        "(default: the tenant's setting)",
    )
    train.add_argument(
        "--force", action="store_true", help="publish even if worse than the live version"
    )
    train.add_argument("--report", metavar="DIR", help="write the held-out report here")
    train.set_defaults(func=commands.intents_train)
    evaluate = intents.add_parser("eval", help="evaluate the live model on a labelled CSV")
    evaluate.add_argument("--tenant", required=True)
    evaluate.add_argument("--data", required=True, help="CSV with columns text,intent")
    evaluate.add_argument("--report", metavar="DIR", help="write the report files here")
    evaluate.add_argument("--json", action="store_true", help="print every figure as JSON")
    evaluate.add_argument("--version", help="a stored version instead of the live one")
    evaluate.set_defaults(func=commands.intents_eval)
    listing = intents.add_parser("versions", help="list model versions with their figures")
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(func=commands.intents_versions)
    back = intents.add_parser("rollback", help="make an earlier version live again")
    back.add_argument("--tenant", required=True)
    back.add_argument("--to", metavar="VERSION", help="default: the previously live version")
    back.set_defaults(func=commands.intents_rollback)
    predict = intents.add_parser("predict", help="classify every row of a CSV into JSON lines")
    predict.add_argument("--tenant", required=True)
    predict.add_argument("--data", required=True, help="CSV with a text column")
    predict.add_argument("--out", required=True, help="output JSON-lines file")
    predict.set_defaults(func=commands.intents_predict)

    workflow = sub.add_parser("workflow", help="run a training workflow here").add_subparsers(
        dest="command", required=True
    )
    wf_run = workflow.add_parser(
        "run", help="run the workflow's Step Functions definition locally, step by step"
    )
    wf_run.add_argument("workflow", choices=["intents", "vision"])
    wf_run.add_argument("--tenant", required=True)
    wf_run.add_argument(
        "--data", help="intents: CSV with columns text,intent; vision: one sub-folder per class"
    )
    wf_run.add_argument(
        "--dataset", choices=vision.DATASETS, help="vision: a packaged/standard set"
    )
    wf_run.add_argument(
        "--data-dir", help="vision --dataset cifar10: the cifar-10-batches-py folder"
    )
    wf_run.add_argument("--epochs", type=int, help="vision: passes over the data")
    wf_run.add_argument("--width", type=int, help="vision: channels of the first stage")
    wf_run.add_argument("--mode", choices=["frozen", "finetune"])
    wf_run.add_argument("--force", action="store_true", help="publish even if worse")
    wf_run.add_argument(
        "--runner",
        choices=["lambda", "sagemaker"],
        default="lambda",
        help="which train state runs (both call the same step here)",
    )
    wf_run.set_defaults(func=commands.workflow_run)

    knowledge = sub.add_parser("knowledge", help="manage the knowledge base").add_subparsers(
        dest="command", required=True
    )
    add = knowledge.add_parser("add", help="add documents (files or folders)")
    add.add_argument("--tenant", required=True)
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.set_defaults(func=commands.knowledge_add)

    vision.add_parser(sub)

    say = sub.add_parser("say", help="speak a text into an audio file (a voice message to try)")
    say.add_argument("text")
    say.add_argument("--out", required=True, help="file to write: .ogg, .wav or .mp3")
    say.set_defaults(func=commands.say)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=commands.serve)

    demo = sub.add_parser("demo", help="create the demo tenant demo-bank (first run only)")
    demo.add_argument("--force", action="store_true", help="rebuild even if it exists")
    demo.add_argument("--base-url", default="http://127.0.0.1:8000")
    demo.add_argument(
        "--env",
        action="store_true",
        help='print the demo keys as shell exports: eval "$(lambdesk demo --env)"',
    )
    demo.set_defaults(func=commands.demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Idle OpenMP threads sleep instead of spinning: on 2 cores, spinning model threads starve the
    # server and the other skills. Must be set before anything imports torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except commands.CliError as exc:
        print(f"lambdesk: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
