"""The `lambdesk` command: operator and training commands over the configured backend.

    lambdesk tenants create <id> [--name N] [--allowed-origin URL]...   keys are printed once
    lambdesk tenants list
    lambdesk tenants callback-secret <id>           the key of its X-Lambdesk-Signature
    lambdesk tenants identity-secret <id>           the key its server signs widget user ids with
    lambdesk intents train --tenant T --data FILE.csv [--responses FILE.yaml]
    lambdesk intents predict --tenant T --data FILE.csv --out FILE.jsonl
    lambdesk knowledge add --tenant T PATH...
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

from cli import commands


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
    train.set_defaults(func=commands.intents_train)
    predict = intents.add_parser("predict", help="classify every row of a CSV into JSON lines")
    predict.add_argument("--tenant", required=True)
    predict.add_argument("--data", required=True, help="CSV with a text column")
    predict.add_argument("--out", required=True, help="output JSON-lines file")
    predict.set_defaults(func=commands.intents_predict)

    knowledge = sub.add_parser("knowledge", help="manage the knowledge base").add_subparsers(
        dest="command", required=True
    )
    add = knowledge.add_parser("add", help="add documents (files or folders)")
    add.add_argument("--tenant", required=True)
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.set_defaults(func=commands.knowledge_add)

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
