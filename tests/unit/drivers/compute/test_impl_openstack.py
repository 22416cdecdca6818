"""Pure parts of the openstack driver: instance mapping and error translation.

The driver's conversations with a cloud are tested over HTTP against the
simulator in tests/functional/drivers.
"""

from keystoneauth1 import exceptions as ks_exc
from openstack.compute.v2 import server as sdk_server
from openstack import exceptions as os_exc
import pytest

from upgrader.common import exception
from upgrader.drivers.compute import impl_openstack


def _server(**overrides):
    body = {'id': 'uuid-1', 'name': 'vm1', 'status': 'ACTIVE',
            'OS-EXT-SRV-ATTR:host': 'cmp001', 'metadata': {},
            'flavor': {'original_name': 'm1.small', 'vcpus': 2, 'ram': 2048,
                       'disk': 20, 'ephemeral': 5, 'extra_specs': {}}}
    body.update(overrides)
    return sdk_server.Server(**body)


def test_instance_maps_flavor_and_host():
    instance = impl_openstack._instance(_server())
    assert instance.host == 'cmp001'
    assert (instance.flavor.vcpus, instance.flavor.memory_mb,
            instance.flavor.disk_gb) == (2, 2048, 25)
    assert instance.flavor_name == 'm1.small'
    assert instance.live_migratable


@pytest.mark.parametrize('overrides, expected', [
    ({'flavor': {'vcpus': 1, 'ram': 1, 'disk': 1,
                 'extra_specs': {'pci_passthrough:alias': 'a1:1'}}},
     'PCI passthrough'),
    ({'flavor': {'vcpus': 1, 'ram': 1, 'disk': 1,
                 'extra_specs': {'resources:VGPU': '1'}}}, 'virtual GPU'),
    ({'metadata': {'upgrader:no-live-migration': 'licence bound to host'}},
     'licence bound to host'),
    ({'status': 'SHUTOFF'}, 'status is SHUTOFF'),
])
def test_live_migration_blockers(overrides, expected):
    instance = impl_openstack._instance(_server(**overrides))
    assert not instance.live_migratable
    assert any(expected in b for b in instance.live_migration_blockers)


@pytest.mark.parametrize('raised, expected', [
    (ks_exc.ConnectFailure('refused'), exception.CloudUnreachable),
    (ks_exc.Unauthorized('bad password'), exception.CloudAuthFailed),
    (os_exc.HttpException('boom', http_status=401),
     exception.CloudAuthFailed),
    (os_exc.HttpException('boom', http_status=503), exception.CloudError),
    (os_exc.SDKException('odd'), exception.CloudError),
])
def test_errors_are_translated(raised, expected):
    with pytest.raises(expected) as info:
        with impl_openstack._translated_errors('http://127.0.0.1:1/v3'):
            raise raised
    assert '\n' not in str(info.value)
