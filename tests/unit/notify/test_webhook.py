"""Webhook POSTs against a real HTTP server on 127.0.0.1: retries, bounds,
and URLs (which may carry a token) kept out of the logs."""

import logging

from tests.fixtures import webhooks
from upgrader.notify import webhook


def _hook(url, **kwargs):
    pauses = []
    hook = webhook.Webhook(url, timeout=1.0, sleep=pauses.append, **kwargs)
    return hook, pauses


def test_a_webhook_failing_twice_gets_the_message_on_the_third_post():
    with webhooks.Receiver(fail_first=2) as receiver:
        hook, pauses = _hook(receiver.url, attempts=3, backoff=0.5)
        assert hook.send({'event_type': 'upgrader.rollout.start', 'n': 1})
    assert receiver.requests == 3
    assert receiver.received == [{'event_type': 'upgrader.rollout.start',
                                  'n': 1}]
    assert pauses == [0.5, 1.0]             # doubling pauses between


def test_attempts_are_bounded_and_the_url_is_never_logged(caplog):
    caplog.set_level(logging.WARNING)
    with webhooks.Receiver(fail_first=10) as receiver:
        hook, pauses = _hook(receiver.url, attempts=2, backoff=0.1)
        assert not hook.send({'event_type': 'upgrader.wave.end'})
    assert receiver.requests == 2 and pauses == [0.1]
    assert 'HTTP 503' in caplog.text
    assert 's3cr3t' not in caplog.text and '127.0.0.1' in caplog.text


def test_a_webhook_that_is_down_is_given_up():
    hook, pauses = _hook(webhooks.closed_port_url(), attempts=3)
    assert not hook.send({'event_type': 'upgrader.rollout.end'})
    assert len(pauses) == 2


def test_a_client_error_is_not_tried_again():
    with webhooks.Receiver(fail_first=5, fail_status=400) as receiver:
        hook, pauses = _hook(receiver.url, attempts=3)
        assert not hook.send({'event_type': 'upgrader.host.error'})
    assert receiver.requests == 1 and pauses == []


def test_safe_url_drops_credentials_path_and_query():
    assert webhook.safe_url('https://u:p@hooks.example:8443/T0/B1?k=v') == \
        'https://hooks.example:8443'
