"""Options of the [notifications] group: who hears of a rollout's
milestones (oslo.messaging notifications, webhooks)."""

from oslo_config import cfg

GROUP = 'notifications'

opts = [
    cfg.StrOpt('transport_url', secret=True,
               help='oslo.messaging transport of the versioned '
                    'notifications, e.g. rabbit://user:pass@host:5672/. '
                    'Unset: none are sent.'),
    cfg.ListOpt('topics', default=['versioned_notifications'],
                help='Topics the notifications are sent to (with the '
                     'messagingv2 driver, queues <topic>.<priority>).'),
    cfg.IntOpt('retry', default=2, min=0,
               help='Times the messaging driver tries to reach the broker '
                    'again before a notification is given up (logged).'),
    cfg.ListOpt('webhook_urls', default=[], secret=True,
                help='URLs each notification is POSTed to as JSON (they may '
                     'carry a token: never logged).'),
    cfg.FloatOpt('webhook_timeout', default=2.0, min=0.1,
                 help='Seconds one webhook POST may take.'),
    cfg.IntOpt('webhook_attempts', default=3, min=1, max=10,
               help='POSTs of one notification to one webhook before it is '
                    'given up (logged), with a doubling pause between.'),
    cfg.FloatOpt('webhook_backoff', default=0.5, min=0.0,
                 help='Seconds before the second POST of a notification.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return opts
