"""Options of the [cloud] group: which cloud upgrader drives, and how.

Credentials come either from clouds.yaml (``cloud = <name>``) or from the
keystoneauth options of this group (``auth_type = password``, ``auth_url``...).
Those are registered by the compute driver when it loads (as keystoneauth
registers its plugins' own): keystoneauth, with requests, is slow to import,
and only the commands that talk to the cloud need it.
"""

from oslo_config import cfg

GROUP = 'cloud'

opts = [
    cfg.StrOpt('compute_driver', default='openstack',
               help='Compute driver, by its name in the '
                    'upgrader.compute_drivers entry point namespace.'),
    cfg.StrOpt('cloud',
               help='Name of the cloud in clouds.yaml. When unset, the '
                    'keystoneauth options of this group are used.'),
    cfg.StrOpt('clouds_file',
               help='Path of the clouds.yaml to read (default: the '
                    'openstacksdk search path).'),
    cfg.StrOpt('region_name', help='Region to use.'),
    cfg.StrOpt('compute_api_version', default='2.95',
               help='Compute API microversion requested from Nova.'),
    cfg.IntOpt('api_timeout', default=60, min=1,
               help='Seconds to wait for an answer from an API.'),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def register_keystoneauth_opts(conf):
    """Register keystoneauth's session and auth options of this group."""
    from keystoneauth1 import loading as ks_loading
    ks_loading.register_session_conf_options(conf, GROUP)
    ks_loading.register_auth_conf_options(conf, GROUP)


def list_opts():
    from keystoneauth1 import loading as ks_loading
    return (opts
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password'))
