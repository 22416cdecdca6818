"""The Notifier on a real SQLite database: payloads, and failures that
never reach the caller."""

from tests.fixtures import webhooks
from upgrader import notify
from upgrader.notify import webhook


class BrokenBus:
    def __getattr__(self, priority):
        def send(ctxt, event_type, payload):
            raise RuntimeError('broker gone')
        return send


def _rollout(dbapi):
    dbapi.release_create('new', {'nova': '30.0.0'})
    rollout = dbapi.rollout_create(name='r1', to_release='new',
                                   template_name='compute-rolling-upgrade',
                                   plan={'waves': [{}, {}]})
    dbapi.host_run_create(rollout.uuid, 'cmp001', 1, state='done')
    dbapi.host_run_create(rollout.uuid, 'cmp002', 2, state='error')
    return rollout


def test_a_broken_bus_neither_raises_nor_stops_the_webhooks(dbapi):
    rollout = _rollout(dbapi)
    with webhooks.Receiver() as receiver:
        notifier = notify.Notifier(dbapi, BrokenBus(), [
            webhook.Webhook(receiver.url, attempts=1)])
        notifier.host_error(rollout.uuid, 'cmp002', 'reboot',
                            'failed: password=hunter2')
        notifier.wave_end(rollout.uuid, 2)
        notifier.rollout_end(rollout.uuid, 'failed')
    assert receiver.event_types() == [notify.HOST_ERROR, notify.WAVE_END,
                                      notify.ROLLOUT_END]
    host, wave, end = [m['payload']['upgrader_object.data']
                       for m in receiver.received]
    assert host['host'] == {'name': 'cmp002', 'step': 'reboot',
                            'error': 'failed: password=***'}
    assert wave['wave'] == {'index': 2, 'hosts': {'error': 1, 'total': 1}}
    assert end['hosts'] == {'done': 1, 'error': 1, 'total': 2}
    assert (end['waves'], end['to_release']) == (2, 'new')
    assert receiver.received[-1]['priority'] == 'ERROR'


def test_a_rollback_that_succeeds_says_which_rollout_was_rolled_back(dbapi):
    original = _rollout(dbapi)
    back = dbapi.rollout_create(name='r1-rollback', rollback_of=original.uuid,
                                template_name='compute-rolling-upgrade',
                                plan={'waves': [{}]})
    with webhooks.Receiver() as receiver:
        notifier = notify.Notifier(dbapi, None,
                                   [webhook.Webhook(receiver.url)])
        notifier.rollout_end(back.uuid, 'failed')
        notifier.rollout_end(back.uuid, 'succeeded')
    assert receiver.event_types() == [notify.ROLLOUT_END, notify.ROLLOUT_END,
                                      notify.ROLLED_BACK]
    end, rolled_back = [m['payload']['upgrader_object.data']
                        for m in receiver.received[1:]]
    assert (end['name'], end['rollback_of']) == ('r1-rollback', 'r1')
    assert (rolled_back['name'], rolled_back['rolled_back_by']) == (
        'r1', 'r1-rollback')


def test_an_unknown_rollout_is_logged_not_raised(dbapi, caplog):
    with webhooks.Receiver() as receiver:
        notify.Notifier(dbapi, None, [webhook.Webhook(receiver.url)]) \
            .rollout_start('nosuch')
    assert receiver.received == []
    assert 'payload could not be read' in caplog.text


def test_nothing_configured_sends_nothing(dbapi):
    assert not notify.Notifier(dbapi).enabled
    notify.Notifier(dbapi).rollout_start('nosuch')      # no lookup at all
