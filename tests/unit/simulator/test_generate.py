"""Cloud generation: deterministic from the seed, valid, all-or-nothing."""

import collections
import json
import os

import pytest

from upgrader.common import exception
from upgrader.simulator import generate
from upgrader.simulator import state


def _content(path):
    conn = state.connect(path)
    try:
        return {
            'hosts': [tuple(r) for r in conn.execute(
                'SELECT name, az, service_uuid, node_uuid, vcpus, memory_mb '
                'FROM hosts ORDER BY name')],
            'instances': [tuple(r) for r in conn.execute(
                'SELECT uuid, name, host, flavor_id, project_id, metadata, '
                'live_migratable FROM instances ORDER BY seq')],
            'groups': [tuple(r) for r in conn.execute(
                'SELECT group_uuid, instance_uuid FROM server_group_members '
                'ORDER BY 1, 2')],
            'aggregates': [tuple(r) for r in conn.execute(
                'SELECT a.name, a.az, h.host FROM aggregates a JOIN '
                'aggregate_hosts h ON h.aggregate_id = a.id ORDER BY 1, 3')],
        }
    finally:
        conn.close()


def test_same_seed_same_cloud(tmp_path):
    generate.create_cloud(tmp_path / 'a.db', seed=5)
    generate.create_cloud(tmp_path / 'b.db', seed=5)
    generate.create_cloud(tmp_path / 'c.db', seed=6)
    a, b, c = (_content(tmp_path / n) for n in ('a.db', 'b.db', 'c.db'))
    assert a == b
    assert a['instances'] != c['instances']
    assert len(a['hosts']) == 16 and len(a['instances']) == 100


def test_shape_of_the_cloud(tmp_path):
    path = tmp_path / 's.db'
    generate.create_cloud(path, hosts=9, instances=40, azs=3, aggregates=2,
                          anti_affinity_groups=3, group_size=4,
                          non_live_migratable_fraction=0.25, seed=1,
                          password='pw')
    content = _content(path)
    assert [h[0] for h in content['hosts']] == ['cmp%03d' % i
                                                for i in range(1, 10)]
    assert collections.Counter(h[1] for h in content['hosts']) == {
        'az1': 3, 'az2': 3, 'az3': 3}
    host_of = {i[0]: i[2] for i in content['instances']}
    members = collections.defaultdict(list)
    for group, member in content['groups']:
        members[group].append(host_of[member])
    assert len(members) == 3
    for hosts in members.values():
        assert len(hosts) == 4 == len(set(hosts))
    pinned = [i for i in content['instances'] if not i[6]]
    assert len(pinned) == 10
    for inst in pinned:
        assert generate.NO_LIVE_MIGRATION_KEY in json.loads(inst[5])
    assert any(i[3] == generate.PCI_FLAVOR[0] for i in pinned)
    assert all(i[3] != generate.PCI_FLAVOR[0] for i in content['instances']
               if i[6])
    zone_of = {h[0]: h[1] for h in content['hosts']}
    for name, az, host in content['aggregates']:
        if az:
            assert zone_of[host] == az
    agg_hosts = [h for n, az, h in content['aggregates'] if not az]
    assert sorted(agg_hosts) == sorted(zone_of)
    conn = state.connect(path)
    assert state.get_meta(conn, 'credentials')['password'] == 'pw'
    conn.close()


def test_capacity_respected(tmp_path):
    path = tmp_path / 's.db'
    generate.create_cloud(path, hosts=3, instances=25, host_vcpus=16,
                          cpu_allocation_ratio=2.0, anti_affinity_groups=0)
    conn = state.connect(path)
    used = conn.execute(
        'SELECT i.host, SUM(f.vcpus) FROM instances i JOIN flavors f ON '
        'f.id = i.flavor_id GROUP BY i.host').fetchall()
    conn.close()
    assert all(v <= 32 for _, v in used)


@pytest.mark.parametrize('kwargs, message', [
    (dict(hosts=0), 'hosts'),
    (dict(azs=20, hosts=4), 'azs'),
    (dict(instances=5, anti_affinity_groups=2), 'anti-affinity'),
    (dict(non_live_migratable_fraction=1.5), 'fraction'),
    (dict(hosts=1, azs=1, instances=1000, anti_affinity_groups=0),
     'cannot hold'),
    (dict(time_scale=0), 'time scale'),
    (dict(faults=[{'kind': 'nope'}]), 'kind'),
])
def test_bad_parameters_leave_no_file(tmp_path, kwargs, message):
    path = tmp_path / 'bad.db'
    with pytest.raises(exception.InvalidInput, match=message):
        generate.create_cloud(path, **kwargs)
    assert os.listdir(tmp_path) == []


def test_existing_file_is_kept(tmp_path):
    path = tmp_path / 's.db'
    generate.create_cloud(path, seed=1)
    before = _content(path)
    with pytest.raises(exception.Conflict):
        generate.create_cloud(path, seed=2)
    assert _content(path) == before
    generate.create_cloud(path, seed=2, overwrite=True)
    assert _content(path) != before
