"""Notifications of a real rollout on the simulator: oslo.messaging
versioned notifications read back from the machine's RabbitMQ, and webhooks
on 127.0.0.1 (one failing twice before it accepts, one down)."""

import json
import time

from tests.fixtures import webhooks
from tests.fixtures.rabbitmq import URL as RABBIT_URL


def _fail_a_wave_2_host(op):
    bad = sorted(h for h, r in op.host_runs().items() if r['wave'] == 2)[0]
    op.sim.api(op.sim.connect(), 'POST', 'simulator-admin', '/faults',
               json={'fault': {'kind': 'package_fail', 'host': bad,
                               'count': 10}})
    return bad


def test_rollout_milestones_reach_rabbitmq_and_webhooks(operator,
                                                        rabbitmq_topic):
    down = webhooks.closed_port_url()
    with webhooks.Receiver(fail_first=2) as flaky:
        op = operator(config={'notifications': {
            'transport_url': RABBIT_URL, 'topics': rabbitmq_topic.name,
            'webhook_urls': '%s,%s' % (flaky.url, down),
            'webhook_backoff': '0.05'}})
        plan = op.plan('--max-failed-hosts', '1')
        bad = _fail_a_wave_2_host(op)
        result = op.manage('rollout', 'start', 'r1', timeout=300)
    # Within the failure budget: finished, with work left (exit 1).
    assert result.returncode == 1, result.stdout + result.stderr
    waves = len(plan['waves'])
    expected = (['upgrader.rollout.start', 'upgrader.wave.end',
                 'upgrader.host.error']
                + ['upgrader.wave.end'] * (waves - 1)
                + ['upgrader.rollout.end'])
    sent = rabbitmq_topic.notifications()
    assert [m['event_type'] for m in sent] == expected, sent
    rollout = op.status()
    for message in sent:
        payload = message['payload']
        assert payload['upgrader_object.name'] in (
            'RolloutPayload', 'WavePayload', 'HostPayload')
        assert payload['upgrader_object.version'] == '1.0'
        data = payload['upgrader_object.data']
        assert (data['uuid'], data['name'], data['template'],
                data['to_release']) == (rollout['uuid'], 'r1',
                                        'compute-rolling-upgrade', 'new')
        assert message['publisher_id'].startswith('upgrader:')
    by_type = {m['event_type']: m for m in sent}
    error = by_type['upgrader.host.error']
    assert error['priority'] == 'ERROR'
    host = error['payload']['upgrader_object.data']['host']
    assert host['name'] == bad and host['step'] == 'upgrade_packages'
    assert [m['payload']['upgrader_object.data']['wave']['index']
            for m in sent if m['event_type'] == 'upgrader.wave.end'] == \
        list(range(1, waves + 1))
    end = by_type['upgrader.rollout.end']['payload']['upgrader_object.data']
    assert end['state'] == 'succeeded'
    assert end['hosts'] == {'done': 5, 'error': 1, 'total': 6}
    # The webhook got the same, its first two POSTs refused (503).
    assert flaky.requests == len(expected) + 2
    assert flaky.event_types() == expected
    assert [m['payload'] for m in flaky.received] == [
        m['payload'] for m in sent]
    # The dead webhook cost warnings, never the rollout; no secret shown.
    assert 'not delivered to webhook http://127.0.0.1:' in result.stderr
    everything = json.dumps(sent) + result.stdout + result.stderr + \
        json.dumps(op.query('SELECT * FROM events'), default=str)
    for secret in ('s3cr3t-token', 'down-token', 'guest:guest'):
        assert secret not in everything


def test_a_broker_down_never_stops_a_rollout(operator):
    down = webhooks.closed_port_url()
    op = operator(config={'notifications': {
        'transport_url': down.replace('http', 'rabbit').split('/hook')[0]
        + '/', 'retry': '0', 'webhook_urls': down,
        'webhook_attempts': '1'}})
    op.plan()
    started = time.monotonic()
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 120
    # oslo.messaging logged what it could not send; so did the webhook.
    assert 'Could not send notification to' in result.stderr
    assert 'upgrader.rollout.end not delivered to webhook' in result.stderr
    assert {h['state'] for h in op.hosts().values()} == {'done'}
