"""The demo behind `make demo`: a full rolling upgrade of a simulated cloud.

Creates a cloud (16 hosts in 2 availability zones, one of them empty in each
zone, 100 instances, anti-affinity groups), serves it with the built-in
simulator, then drives it exactly as an operator would, with upgrader-manage:
db sync, release create, rollout plan, rollout start. It ends with the
simulator referee's verdict. Everything lives in --workdir; nothing else is
touched.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from upgrader.simulator import generate
from upgrader.simulator import server as sim_server

BIN = os.path.dirname(sys.executable)
RELEASE = {'nova-compute': '30.0.0', 'qemu': '8.2.2', 'libvirt': '10.0.0',
           'linux-image': '6.1.0-40', 'openvswitch': '3.3.0'}


def manage(config, *argv, check=True):
    print('\n$ upgrader-manage %s' % ' '.join(argv), flush=True)
    result = subprocess.run([os.path.join(BIN, 'upgrader-manage'),
                             '--config-file', config] + list(argv))
    if check and result.returncode != 0:
        sys.exit('demo: upgrader-manage %s exited %d'
                 % (' '.join(argv), result.returncode))
    return result.returncode


def write_config(workdir, clouds_yaml, cloud_name):
    path = os.path.join(workdir, 'upgrader.conf')
    with open(path, 'w') as f:
        f.write('[DEFAULT]\nstate_path = %s\n' % workdir)
        f.write('[database]\nconnection = sqlite:///%s/upgrader.sqlite\n'
                % workdir)
        f.write('[persistence]\nconnection = sqlite:///%s/taskflow.sqlite\n'
                % workdir)
        f.write('[cloud]\ncloud = %s\nclouds_file = %s\n'
                % (cloud_name, clouds_yaml))
        f.write('[host_access]\ndriver = simulator\n')
        f.write('[workflow]\ntemplate_dirs =\npoll_interval = 0.05\n')
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workdir', default='.work/demo')
    parser.add_argument('--hosts', type=int, default=16)
    parser.add_argument('--instances', type=int, default=100)
    parser.add_argument('--max-parallel', type=int, default=2)
    parser.add_argument('--time-scale', type=float, default=1000.0,
                        help='1000: a 60 s live migration takes 60 ms.')
    args = parser.parse_args()

    workdir = os.path.abspath(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    state_file = os.path.join(workdir, 'simulator.sqlite')
    generate.create_cloud(
        state_file, hosts=args.hosts, instances=args.instances, azs=2,
        aggregates=2, anti_affinity_groups=4, group_size=3,
        non_live_migratable_fraction=0.0, spare_hosts_per_az=1, seed=42,
        time_scale=args.time_scale,
        max_hosts_out_of_service=args.max_parallel)
    with sim_server.SimulatorServer(state_file) as sim:
        clouds_yaml = os.path.join(workdir, 'clouds.yaml')
        sim.write_clouds_yaml(clouds_yaml, 'demo')
        print('Simulated cloud served at %s (state in %s)'
              % (sim.url, state_file))
        config = write_config(workdir, clouds_yaml, 'demo')
        manage(config, 'db', 'sync')
        manage(config, 'persistence', 'sync')
        manage(config, 'cloud', 'inventory')
        manage(config, 'release', 'create', '2026.2', *[
            arg for name, version in sorted(RELEASE.items())
            for arg in ('--component', '%s=%s' % (name, version))])
        manage(config, 'rollout', 'plan', '--template',
               'compute-rolling-upgrade', '--to', '2026.2',
               '--max-parallel', str(args.max_parallel), '--name', 'demo',
               check=False)
        started = time.monotonic()
        code = manage(config, 'rollout', 'start', 'demo', check=False)
        elapsed = time.monotonic() - started
        report = json.loads(subprocess.run(
            [os.path.join(BIN, 'upgrader-simulator'), 'report', '--state',
             state_file, '--format', 'json'],
            capture_output=True, text=True).stdout)
    summarise(report, elapsed)
    ok = code == 0 and report['ok']
    print('\nDemo %s.' % ('succeeded' if ok else 'FAILED'))
    return 0 if ok else 1


def summarise(report, elapsed):
    hosts = report['hosts']
    upgraded = sum(1 for h in hosts.values()
                   if h['packages'].get('nova-compute')
                   == RELEASE['nova-compute'])
    migrations = report['migrations']
    print('\nSummary')
    print('  hosts upgraded:          %d of %d' % (upgraded, len(hosts)))
    print('  hosts enabled:           %d of %d' % (
        sum(1 for h in hosts.values() if h['status'] == 'enabled'),
        len(hosts)))
    print('  migrations:              %d (per instance: max %d, histogram %s)'
          % (migrations['total'], migrations['per_instance_max'],
             json.dumps(migrations['histogram'], sort_keys=True)))
    print('  rollout wall time:       %.1f s' % elapsed)
    print('  referee: instances killed: %d, violations: %d%s' % (
        report['instances_killed'], report['violations']['total'],
        '' if not report['violations']['total'] else ' ' + json.dumps(
            report['violations']['by_kind'])))


if __name__ == '__main__':
    sys.exit(main())
