"""The order of a release train's stages (pure)."""

import pytest

from upgrader.common import exception
from upgrader.common import versions
from upgrader.plan import train

CONTROL = {'keystone', 'glance-api', 'nova-api', 'nova-conductor',
           'nova-scheduler', 'barbican-api'}
OLD = {'keystone': '26.0.0', 'glance-api': '28.0.0', 'nova-api': '29.0.0',
       'nova-conductor': '29.0.0', 'nova-scheduler': '29.0.0',
       'barbican-api': '19.0.0', 'nova-compute': '29.0.0',
       'qemu': '8.0.0'}


def _kinds(target):
    return [(s['kind'], s.get('service')) for s in train.stages(
        OLD, dict(OLD, **target), CONTROL, versions.schema_generation)]


def test_upstream_order_whatever_the_release_lists_first():
    assert _kinds({'nova-api': '30.0.0', 'nova-compute': '30.0.0',
                   'barbican-api': '20.0.0', 'nova-conductor': '30.0.0',
                   'keystone': '27.0.0'}) == [
        ('expand', None), ('service', 'keystone'), ('pin', 'nova-compute'),
        ('service', 'nova-conductor'), ('service', 'nova-api'),
        ('service', 'barbican-api'),            # the others after Nova's
        ('computes', None), ('unpin', 'nova-compute')]


def test_patch_releases_need_no_expand_and_no_pin():
    found = train.stages(OLD, dict(OLD, **{
        'keystone': '26.0.1', 'nova-api': '29.0.1', 'qemu': '8.0.1'}),
        CONTROL, versions.schema_generation)
    assert [(s['kind'], s.get('template')) for s in found] == [
        ('service', 'service-update'), ('service', 'service-update'),
        ('computes', 'compute-rolling-upgrade')]
    assert found[-1]['versions'] == {'qemu': '8.0.1'}


def test_new_nova_services_with_old_computes_stay_pinned():
    # The computes are not in this release: pinned, and never unpinned.
    assert _kinds({'nova-conductor': '30.0.0'}) == [
        ('expand', None), ('pin', 'nova-compute'),
        ('service', 'nova-conductor')]


def test_computes_newer_than_the_conductors_are_refused():
    with pytest.raises(exception.PlanError, match='computes go last'):
        _kinds({'nova-compute': '30.0.0'})


def test_nothing_changes():
    assert _kinds({}) == []
