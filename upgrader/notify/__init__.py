"""Notifications of a rollout's milestones, for those who watch from afar.

Four event types, each sent as an oslo.messaging versioned notification
(driver ``messagingv2``, to ``[notifications] topics``) and, when configured,
POSTed as JSON to webhooks (:mod:`upgrader.notify.webhook`):

====================== ======== ==========================================
event type             priority when
====================== ======== ==========================================
upgrader.rollout.start info     the controller starts (or resumes after it
                                stopped) the rollout
upgrader.wave.end      info     a wave ended within the failure budget
upgrader.host.error    error    a host failed (it reverted itself)
upgrader.rollout.end   info,    the rollout succeeded, was aborted (warn)
                       warn,    or failed (error)
                       error
upgrader.rollout.      info     a rollback (``rollout rollback``)
rolled_back                     succeeded: about the rollout it took back,
                                with ``rolled_back_by``
====================== ======== ==========================================

The payload is versioned like nova's: ``upgrader_object.name`` /
``.namespace`` / ``.version`` / ``.data``; the data describes the rollout
(uuid, name, state, template, from/to release, the rollout it rolls back
if any, hosts per state) plus the wave or host concerned. No secret is in it: errors are masked.

Sent by whichever process runs the rollout's controller and host flows
(the embedded runner or the conductors), at least once: a conductor that
dies mid-wave may send a wave's notification again. A notification that
cannot be sent is logged and given up: it never stops or fails a rollout.
"""

import collections
import socket

from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import timeutils
from oslo_utils import uuidutils

from upgrader.notify import webhook

LOG = logging.getLogger(__name__)

ROLLOUT_START = 'upgrader.rollout.start'
WAVE_END = 'upgrader.wave.end'
HOST_ERROR = 'upgrader.host.error'
ROLLOUT_END = 'upgrader.rollout.end'
ROLLED_BACK = 'upgrader.rollout.rolled_back'

PAYLOAD_VERSION = '1.0'
# rollout.end's priority by the rollout's final state.
END_PRIORITY = {'succeeded': 'info', 'aborted': 'warn', 'failed': 'error'}


def publisher_id():
    return 'upgrader:%s' % socket.gethostname()


class Notifier:
    """Sends the notifications of one process; never raises.

    :param dbapi: our database, read for the payloads.
    :param messaging: an ``oslo_messaging.Notifier`` or None.
    :param webhooks: :class:`upgrader.notify.webhook.Webhook` objects.
    """

    def __init__(self, dbapi, messaging=None, webhooks=()):
        self.dbapi = dbapi
        self.messaging = messaging
        self.webhooks = list(webhooks)

    @property
    def enabled(self):
        return self.messaging is not None or bool(self.webhooks)

    def rollout_start(self, rollout_id):
        self._emit(ROLLOUT_START, 'info', 'RolloutPayload', rollout_id)

    def wave_end(self, rollout_id, index):
        hosts = self.dbapi.host_run_list(rollout_id, wave=index) \
            if self.enabled else ()
        self._emit(WAVE_END, 'info', 'WavePayload', rollout_id,
                   wave={'index': index, 'hosts': _counts(hosts)})

    def host_error(self, rollout_id, host, step, error):
        self._emit(HOST_ERROR, 'error', 'HostPayload', rollout_id,
                   host={'name': host, 'step': step,
                         'error': _mask(error)})

    def rollout_end(self, rollout_id, state):
        self._emit(ROLLOUT_END, END_PRIORITY.get(state, 'error'),
                   'RolloutPayload', rollout_id)
        if state != 'succeeded' or not self.enabled:
            return
        try:
            rollout = self.dbapi.rollout_get(rollout_id)
        except Exception:
            LOG.exception('Rollout %s not read: no rolled-back notification',
                          rollout_id)
            return
        if rollout.rollback_of is not None:
            self._emit(ROLLED_BACK, 'info', 'RolloutPayload',
                       rollout.rollback_of.uuid, rolled_back_by=rollout.name)

    def _emit(self, event_type, priority, name, rollout_id, **extra):
        if not self.enabled:
            return
        try:
            payload = self._payload(name, rollout_id, extra)
        except Exception:
            LOG.exception('Notification %s of rollout %s not sent: its '
                          'payload could not be read', event_type,
                          rollout_id)
            return
        if self.messaging is not None:
            try:
                getattr(self.messaging, priority)({}, event_type, payload)
            except Exception as e:
                LOG.warning('Notification %s of rollout %s not sent to the '
                            'message bus: %s', event_type, rollout_id,
                            type(e).__name__)
        message = {'message_id': uuidutils.generate_uuid(),
                   'publisher_id': publisher_id(),
                   'event_type': event_type, 'priority': priority.upper(),
                   'timestamp': timeutils.utcnow().isoformat(),
                   'payload': payload}
        for hook in self.webhooks:
            hook.send(message)

    def _payload(self, name, rollout_id, extra):
        rollout = self.dbapi.rollout_get(rollout_id)
        data = {
            'uuid': rollout.uuid, 'name': rollout.name,
            'state': rollout.state, 'template': rollout.template_name,
            'from_release': (rollout.from_release.name
                             if rollout.from_release else None),
            'to_release': (rollout.to_release.name
                           if rollout.to_release else None),
            'rollback_of': (rollout.rollback_of.name
                            if rollout.rollback_of else None),
            'waves': len((rollout.plan or {}).get('waves', [])),
            'hosts': _counts(self.dbapi.host_run_list(rollout.uuid)),
            'error': _mask(rollout.error),
            'started_at': _iso(rollout.started_at),
            'finished_at': _iso(rollout.finished_at),
        }
        data.update(extra)
        return {'upgrader_object.name': name,
                'upgrader_object.namespace': 'upgrader',
                'upgrader_object.version': PAYLOAD_VERSION,
                'upgrader_object.data': data}


def _counts(host_runs):
    counts = collections.Counter(h.state for h in host_runs)
    return dict(counts, total=sum(counts.values()))


def _mask(text):
    return None if text is None else strutils.mask_password(str(text))


def _iso(value):
    return value.isoformat() if value else None


def get_notifier(conf, dbapi):
    """The notifier ``[notifications]`` configures (sending nothing when
    nothing is configured)."""
    group = conf.notifications
    messaging = None
    if group.transport_url:
        try:
            messaging = _messaging(conf, group)
        except Exception as e:
            # The URL is a secret: name only the error.
            LOG.error('No notification will reach the message bus: %s',
                      type(e).__name__)
    hooks = [webhook.Webhook(url, timeout=group.webhook_timeout,
                             attempts=group.webhook_attempts,
                             backoff=group.webhook_backoff)
             for url in group.webhook_urls]
    return Notifier(dbapi, messaging, hooks)


def _messaging(conf, group):
    # Imported only when used: oslo.messaging is slow to import.
    import oslo_messaging
    transport = oslo_messaging.get_notification_transport(
        conf, url=group.transport_url)
    # It logs (and swallows) what it cannot send.
    return oslo_messaging.Notifier(
        transport, publisher_id=publisher_id(), driver='messagingv2',
        topics=group.topics, retry=group.retry)
