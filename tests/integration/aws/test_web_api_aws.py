"""The web pages' API suites of `tests/integration/test_web_api.py` in aws mode: ratings beside
the messages in DynamoDB, analytics counters in DynamoDB, verified user ids in session state."""

from tests.integration.test_web_api import (  # noqa: F401
    test_a_rating_is_stored_once_per_reply_and_counted,
    test_a_session_keeps_a_user_id_only_when_its_signature_is_valid,
    test_giving_a_session_back_tells_the_customer_once,
    test_only_bot_replies_of_the_callers_own_session_can_be_rated,
    test_the_summary_covers_the_asked_days,
)
