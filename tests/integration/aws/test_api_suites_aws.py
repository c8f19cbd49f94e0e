"""The API flow and tenant-isolation suites of `tests/integration`, run unchanged in aws mode:
DynamoDB and S3 on moto, every skill call a Lambda `Invoke` over HTTP to the local endpoint,
conversation logs through Powertools (see this folder's `services` fixture)."""

from tests.integration.conftest import LiveApi
from tests.integration.test_api_flows import *  # noqa: F403
from tests.integration.test_isolation import *  # noqa: F403


def test_health_names_the_aws_backend(live_api: LiveApi) -> None:
    assert live_api.client.get("/healthz").json() == {"status": "ok", "backend": "aws"}
