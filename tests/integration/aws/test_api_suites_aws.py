"""The API flow and tenant-isolation suites of `tests/integration`, run unchanged in aws mode:
DynamoDB and S3 on moto, every skill call a Lambda `Invoke` over HTTP to the local endpoint,
conversation logs through Powertools (see this folder's `container` fixture)."""

from tests.integration.conftest import LiveApi
from tests.integration.test_api_flows import *  # noqa: F403
from tests.integration.test_isolation import *  # noqa: F403

# That test pins `"backend": "local"` in the health answer; its aws twin is below.
del test_request_id_and_cors  # noqa: F821


def test_health_names_the_aws_backend_and_echoes_the_request_id(live_api: LiveApi) -> None:
    echoed = live_api.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.json() == {"status": "ok", "backend": "aws"}
    assert echoed.headers["x-request-id"] == "abc-123"
