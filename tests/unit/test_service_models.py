"""The trimmed botocore models (`infra.aws.service_models`) match the installed botocore, and
the process's clients load them (the Lambda client's model holds `Invoke` only; the others are
botocore's own)."""

from __future__ import annotations

import json

from core.settings import Settings
from infra.aws.clients import aws_clients, clear_client_cache
from infra.aws.service_models import OPERATIONS, model_path, trimmed_model


def test_the_shipped_models_are_the_installed_botocores_cut_down() -> None:
    for service, operations in OPERATIONS.items():
        api_version, model = trimmed_model(service, operations)
        shipped = json.loads(model_path(service, api_version).read_text())
        assert shipped == model, f"regenerate: python -m infra.aws.service_models ({service})"
        assert sorted(shipped["operations"]) == sorted(operations)
        assert "documentation" not in json.dumps(shipped)


def test_the_clients_load_the_trimmed_lambda_model_and_botocores_others() -> None:
    clear_client_cache()
    try:
        settings = Settings(aws_region="eu-west-1")
        clients = aws_clients(settings)
        assert clients.lambda_.meta.service_model.operation_names == ["Invoke"]
        invoke = clients.lambda_.meta.service_model.operation_model("Invoke")
        assert {"FunctionName", "InvocationType", "Payload"} <= set(invoke.input_shape.members)
        assert "StatusCode" in invoke.output_shape.members
        assert "TransactWriteItems" in clients.dynamodb.meta.service_model.operation_names
        assert clients.lambda_.meta.region_name == "eu-west-1"
    finally:
        clear_client_cache()
