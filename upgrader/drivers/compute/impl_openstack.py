"""The ``openstack`` compute driver: Nova and Placement through openstacksdk.

The same code drives a real cloud and upgrader's simulator. Credentials come
from clouds.yaml (``[cloud] cloud``) or from the keystoneauth options of the
``[cloud]`` group; they are handed to keystoneauth and never logged.
"""

import contextlib
import functools
import re

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
import openstack
from openstack import config as os_config
from openstack import exceptions as os_exc
from oslo_log import log as logging

from upgrader.common import exception
from upgrader.common import inventory as inv
from upgrader.conf import cloud as cloud_conf
from upgrader.drivers.compute import base

LOG = logging.getLogger(__name__)

COMPUTE_BINARY = 'nova-compute'

# What the compute API shows of why an instance cannot be live-migrated
# (read at plan time, so nothing is discovered mid-roll):
# - flavor extra specs asking for host hardware Nova does not live-migrate:
#   PCI passthrough (also SR-IOV ports' PCI requests, which the API does not
#   show) and vGPUs;
# - the instance's status: only ACTIVE and PAUSED instances live-migrate;
# - an operator's (or owner's) mark, server metadata
#   ``upgrader:no-live-migration=<reason>``, for what the API cannot show,
#   such as local block devices on hosts without block migration, or
#   volumes on a backend that cannot follow.
# Pinned CPUs (``hw:cpu_policy=dedicated``) and NUMA topologies are not
# blockers: Nova live-migrates them NUMA-aware since Train (20.0.0).
BLOCKING_EXTRA_SPECS = {
    'pci_passthrough:alias': 'PCI passthrough device',
    'resources:VGPU': 'virtual GPU',
    'resources:PGPU': 'physical GPU',
}
NO_LIVE_MIGRATION_KEY = 'upgrader:no-live-migration'
LIVE_MIGRATABLE_STATUSES = frozenset(['ACTIVE', 'PAUSED'])


@contextlib.contextmanager
def _translated_errors(url=None):
    """Turn client library errors into upgrader's one-line errors.

    ``url`` names the endpoint in errors: a string, or a callable asked only
    when an error happens (the URL is known once the connection is made).
    """
    try:
        yield
    except (ks_exc.ConnectFailure, ks_exc.ConnectTimeout,
            ks_exc.DiscoveryFailure) as e:
        url = url() if callable(url) else url
        raise exception.CloudUnreachable(url=url or 'the configured endpoint',
                                         reason=_connection_error(e))
    except ks_exc.Unauthorized as e:
        raise exception.CloudAuthFailed(reason=_first_line(e))
    except ks_exc.MissingAuthPlugin as e:
        raise exception.ConfigInvalid(reason=_first_line(e))
    except os_exc.HttpException as e:
        if e.status_code == 401:
            raise exception.CloudAuthFailed(reason=_first_line(e))
        raise exception.CloudError(reason=_first_line(e))
    except (ks_exc.ClientException, os_exc.SDKException) as e:
        raise exception.CloudError(reason=_first_line(e))


def _connection_error(e):
    """The socket's own words ('Connection refused'), not urllib3's prose."""
    found = re.search(r'\[Errno -?\d+\] ([^"\')]+)', str(e))
    if found:
        return found.group(1).strip()
    return 'timed out' if isinstance(e, ks_exc.ConnectTimeout) else (
        _first_line(e)[:200])


def _first_line(e):
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def _translate(func):
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        with _translated_errors(lambda: self.auth_url):
            return func(self, *args, **kwargs)
    return wrapper


class OpenStackComputeDriver(base.ComputeDriver):
    """Nova (os-services, servers, live migration) and Placement (capacity)."""

    def __init__(self, conf):
        super().__init__(conf)
        cloud_conf.register_keystoneauth_opts(conf)
        self._conn = None
        self.auth_url = None

    # -- connection --------------------------------------------------------

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self):
        opts = self.conf.cloud
        settings = {'compute_api_version': opts.compute_api_version,
                    'api_timeout': opts.api_timeout}
        if opts.region_name:
            settings['region_name'] = opts.region_name
        if opts.cloud:
            files = [opts.clouds_file] if opts.clouds_file else None
            try:
                config = os_config.OpenStackConfig(config_files=files,
                                                   load_envvars=False)
                region = config.get_one(cloud=opts.cloud, **settings)
            except os_exc.ConfigException as e:
                if 'was not found' in str(e):
                    raise exception.CloudNotFound(cloud=opts.cloud)
                raise exception.ConfigInvalid(reason=_first_line(e))
            self.auth_url = region.get_auth_args().get('auth_url')
            return openstack.connection.Connection(config=region)
        auth = ks_loading.load_auth_from_conf_options(self.conf, 'cloud')
        if auth is None:
            raise exception.ConfigInvalid(
                reason='no cloud credentials: set [cloud] cloud (clouds.yaml) '
                       'or [cloud] auth_type and its options')
        self.auth_url = getattr(auth, 'auth_url', None)
        session = ks_loading.load_session_from_conf_options(
            self.conf, 'cloud', auth=auth)
        return openstack.connection.Connection(session=session, **settings)

    @_translate
    def check(self):
        # Authenticates, reads the catalog and negotiates a microversion.
        endpoint = self.conn.compute.get_endpoint()
        list(self.conn.compute.services(binary=COMPUTE_BINARY))
        return endpoint

    # -- inventory ---------------------------------------------------------

    @_translate
    def get_inventory(self):
        hosts = self._list_hosts()
        instances = self._list_instances()
        groups = [inv.ServerGroup(uuid=g.id, name=g.name,
                                  policy=g.policy or (g.policies or [''])[0],
                                  members=list(g.member_ids or []))
                  for g in self.conn.compute.server_groups(all_projects=True)]
        groups_of = {}
        for group in groups:
            for member in group.members:
                groups_of.setdefault(member, []).append(group.uuid)
        for instance in instances:
            instance.server_groups = sorted(groups_of.get(instance.uuid, []))
        counts = {}
        for instance in instances:
            counts[instance.host] = counts.get(instance.host, 0) + 1
        for host in hosts:
            host.instance_count = counts.get(host.name, 0)
        return inv.Inventory(hosts=hosts, instances=instances,
                             server_groups=groups)

    @_translate
    def get_host(self, host):
        for candidate in self._list_hosts(only=host):
            return candidate
        raise exception.HostNotFound(host=host)

    def _list_hosts(self, only=None):
        query = {'binary': COMPUTE_BINARY}
        if only:
            query['host'] = only
        services = sorted(self.conn.compute.services(**query),
                          key=lambda s: s.host)
        aggregates = {}
        for agg in self.conn.compute.aggregates():
            for name in agg.hosts or []:
                aggregates.setdefault(name, []).append(agg.name)
        providers = self._resource_providers()
        hosts = []
        for svc in services:
            capacity, used = self._capacity(providers.get(svc.host))
            hosts.append(inv.Host(
                name=svc.host, service_id=str(svc.id), status=svc.status,
                state=svc.state, availability_zone=svc.availability_zone,
                disabled_reason=svc.disabled_reason,
                aggregates=sorted(aggregates.get(svc.host, [])),
                capacity=capacity, used=used))
        return hosts

    def _resource_providers(self):
        """Map service host name -> Placement resource provider id.

        Since compute microversion 2.53 a hypervisor's id is its compute
        node's uuid, which is also its resource provider's uuid.
        """
        return {hv.service_details['host']: hv.id
                for hv in self.conn.compute.hypervisors(details=True)
                if hv.service_details}

    def _capacity(self, provider_id):
        if provider_id is None:
            return inv.Resources(), inv.Resources()
        placement = self.conn.placement
        capacity = {}
        for item in placement.resource_provider_inventories(provider_id):
            capacity[item.resource_class] = (
                (item.total - (item.reserved or 0))
                * (item.allocation_ratio or 1.0))
        usages = placement.fetch_resource_provider_usages(provider_id).usages
        return _resources(capacity), _resources(usages or {})

    @_translate
    def list_instances(self, host=None):
        return self._list_instances(host)

    def _list_instances(self, host=None):
        query = {'all_projects': True}
        if host:
            query['compute_host'] = host
        servers = self.conn.compute.servers(details=True, **query)
        return sorted((_instance(s) for s in servers),
                      key=lambda i: (i.host or '', i.name, i.uuid))

    @_translate
    def get_instance(self, uuid):
        try:
            return _instance(self.conn.compute.get_server(uuid))
        except os_exc.NotFoundException:
            return None

    # -- actions -----------------------------------------------------------

    def _service(self, host):
        for svc in self.conn.compute.services(binary=COMPUTE_BINARY,
                                              host=host):
            if svc.host == host:
                return svc
        raise exception.HostNotFound(host=host)

    @_translate
    def disable_service(self, host, reason):
        LOG.info('Disabling nova-compute on %(host)s: %(reason)s',
                 {'host': host, 'reason': reason})
        self.conn.compute.disable_service(self._service(host),
                                          disabled_reason=reason)

    @_translate
    def enable_service(self, host):
        LOG.info('Enabling nova-compute on %s', host)
        self.conn.compute.enable_service(self._service(host))

    @_translate
    def live_migrate(self, instance_uuid, target_host):
        LOG.info('Live-migrating instance %(uuid)s to %(host)s',
                 {'uuid': instance_uuid, 'host': target_host})
        self.conn.compute.live_migrate_server(instance_uuid, host=target_host,
                                              block_migration='auto')

    @_translate
    def cold_migrate(self, instance_uuid, target_host):
        LOG.info('Cold-migrating instance %(uuid)s to %(host)s',
                 {'uuid': instance_uuid, 'host': target_host})
        self.conn.compute.migrate_server(instance_uuid, host=target_host)

    @_translate
    def confirm_resize(self, instance_uuid):
        LOG.info('Confirming the migration of instance %s', instance_uuid)
        self.conn.compute.confirm_server_resize(instance_uuid)

    @_translate
    def stop_instance(self, instance_uuid):
        LOG.info('Stopping instance %s', instance_uuid)
        self.conn.compute.stop_server(instance_uuid)

    @_translate
    def start_instance(self, instance_uuid):
        LOG.info('Starting instance %s', instance_uuid)
        self.conn.compute.start_server(instance_uuid)

    @_translate
    def list_migrations(self, instance_uuid):
        found = self.conn.compute.migrations(instance_uuid=instance_uuid)
        migrations = [base.Migration(
            uuid=m.uuid, id=m.id, instance_uuid=m.server_id,
            source_host=m.source_compute, dest_host=m.dest_compute,
            status=m.status, migration_type=m.migration_type)
            for m in found if m.server_id == instance_uuid]
        return sorted(migrations, key=lambda m: m.id or 0)

    @_translate
    def abort_migration(self, instance_uuid, migration):
        LOG.info('Aborting migration %(mig)s of instance %(uuid)s',
                 {'mig': migration.id, 'uuid': instance_uuid})
        try:
            self.conn.compute.abort_server_migration(
                migration.id, instance_uuid, ignore_missing=True)
        except os_exc.ConflictException:
            # Nova answers 409 when the migration is no longer abortable.
            LOG.info('Migration %s of instance %s was already over',
                     migration.id, instance_uuid)


def _resources(amounts):
    return inv.Resources(vcpus=amounts.get('VCPU', 0),
                         memory_mb=amounts.get('MEMORY_MB', 0),
                         disk_gb=amounts.get('DISK_GB', 0))


def _instance(server):
    flavor = server.flavor
    extra_specs = (flavor.extra_specs if flavor is not None else None) or {}
    blockers = ['flavor requests a %s (%s)' % (what, key)
                for key, what in sorted(BLOCKING_EXTRA_SPECS.items())
                if key in extra_specs]
    reason = (server.metadata or {}).get(NO_LIVE_MIGRATION_KEY)
    if reason is not None:
        blockers.append('marked %s: %s' % (NO_LIVE_MIGRATION_KEY, reason))
    if server.status not in LIVE_MIGRATABLE_STATUSES:
        blockers.append('status is %s' % server.status)
    return inv.Instance(
        uuid=server.id, name=server.name, host=server.compute_host,
        status=server.status,
        flavor=inv.Resources(vcpus=flavor.vcpus or 0,
                             memory_mb=flavor.ram or 0,
                             disk_gb=(flavor.disk or 0)
                             + (flavor.ephemeral or 0))
        if flavor is not None else inv.Resources(),
        flavor_name=(flavor.original_name or flavor.name)
        if flavor is not None else None,
        live_migration_blockers=blockers,
        metadata=dict(server.metadata or {}),
        # Tags are shown from compute microversion 2.26.
        tags=list(server.tags or []),
        project_id=server.project_id)
