"""`make run-aws-local`: the whole aws-mode stack on this machine, no account needed.

Starts moto's server (DynamoDB, S3) on 127.0.0.1, creates the stage's table and bucket from the
deployed schema, starts the local Lambda Invoke endpoint that runs the skills' `handler.py` in
this process (moto cannot run functions without docker), creates a demo tenant and prints its
keys, then serves the API with `LAMBDESK_BACKEND=aws` in a child process pointed at both (so
the API process stays free of model libraries, as on Lambda). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGION = "us-east-1"
STAGE = "local"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--aws-port", type=int, default=0, help="moto's port (0: any free one)")
    parser.add_argument("--tenant", default="demo", help="demo tenant to create ('' for none)")
    args = parser.parse_args(argv)

    from devtools.local_lambda_server import LocalLambdaServer
    from devtools.local_stack import provision, start_moto, use_fake_credentials

    use_fake_credentials()
    moto = start_moto(port=args.aws_port)
    table = bucket = f"lambdesk-{STAGE}"
    prefix = f"lambdesk-{STAGE}-"
    provision(endpoint_url=moto.url, table_name=table, bucket_name=bucket, region=REGION)
    env = {
        "LAMBDESK_BACKEND": "aws",
        "LAMBDESK_AWS_REGION": REGION,
        "LAMBDESK_AWS_ENDPOINT_URL": moto.url,
        "LAMBDESK_TABLE_NAME": table,
        "LAMBDESK_BUCKET_NAME": bucket,
        "LAMBDESK_FUNCTION_PREFIX": prefix,
        "LAMBDESK_TOKEN_SECRET": os.environ.get("LAMBDESK_TOKEN_SECRET") or secrets.token_hex(32),
        "HF_HUB_OFFLINE": "1",
    }
    os.environ.update(env)  # the skills' handlers in this process read the same settings
    lambdas = LocalLambdaServer(function_prefix=prefix, region=REGION).start()
    os.environ["AWS_ENDPOINT_URL_LAMBDA"] = lambdas.url
    print(f"moto (DynamoDB, S3): {moto.url}  table/bucket: {table}", flush=True)
    print(f"Lambda Invoke:       {lambdas.url}  functions: {prefix}<skill>", flush=True)

    if args.tenant:
        _create_demo_tenant(args.tenant, origin=f"http://{args.host}:{args.port}")

    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            args.host,
            "--port",
            str(args.port),
        ],
        cwd=ROOT,
        env=dict(os.environ),
    )
    print(f"API (aws mode):      http://{args.host}:{args.port}", flush=True)
    try:
        return api.wait()
    except KeyboardInterrupt:
        api.terminate()
        api.wait(timeout=10)
        return 0
    finally:
        lambdas.stop()
        moto.stop()


def _create_demo_tenant(tenant_id: str, *, origin: str) -> None:
    from core.auth import create_tenant_with_keys
    from core.bootstrap import build_services
    from core.errors import Conflict
    from core.models import Tenant

    services = build_services()
    try:
        _, admin, widget = create_tenant_with_keys(
            tenants=services.tenants,
            tenant=Tenant(tenant_id=tenant_id, name=tenant_id, allowed_origins=[origin]),
        )
    except Conflict:
        print(f"tenant {tenant_id!r} exists", flush=True)
        return
    finally:
        services.close()
    print(f"tenant {tenant_id!r}: admin key {admin}  widget key {widget}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
