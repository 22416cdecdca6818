"""upgrader-simulator: create, serve and judge a simulated OpenStack cloud.

    upgrader-simulator create --state FILE [--hosts N --instances M ...]
    upgrader-simulator serve --state FILE [--port P] [--time-scale F]
    upgrader-simulator report --state FILE [--format json]
    upgrader-simulator fault {add,list,delete,clear} --state FILE ...
    upgrader-simulator policy --state FILE [--max-hosts-out-of-service N]
        [--max-hosts-out-of-service-per-az N]
        [--max-hosts-out-of-service-per-aggregate N]
    upgrader-simulator clouds-yaml --state FILE --url URL [--output PATH]

The cloud lives in one SQLite state file; several servers and commands may
use it at once. Exit codes: 0 ok, 1 the report found violations, 2 failed,
255 unexpected error.
"""

import argparse
import json
import logging
import signal
import sys
import threading
import time

import yaml

from upgrader.cmd import common
from upgrader.common import exception
from upgrader.simulator import cloud as sim_cloud
from upgrader.simulator import faults
from upgrader.simulator import generate
from upgrader.simulator import referee
from upgrader.simulator import server
from upgrader.simulator import state

LOG = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line ``ERROR:`` of every upgrader command."""

    def error(self, message):
        common.error(message)
        sys.exit(common.EXIT_FAILED)


def _state_arg(parser):
    parser.add_argument('--state', required=True, metavar='FILE',
                        help='The simulator state file (SQLite).')


def _format_arg(parser):
    parser.add_argument('--format', dest='output_format', default='table',
                        choices=('table', 'json'),
                        help='Output format (default: %(default)s).')


def _package(text):
    name, sep, version = text.partition('=')
    if not sep or not name or not version:
        raise argparse.ArgumentTypeError('expected NAME=VERSION, got %r'
                                         % text)
    return name, version


def _fault_json(text):
    try:
        return json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError('fault is not JSON: %s' % e)


def _fraction(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError('must be between 0 and 1')
    return value


def _positive(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError('must be positive')
    return value


# -- create ------------------------------------------------------------------

def _add_create(sub):
    p = sub.add_parser('create', help='Generate a new simulated cloud.',
                       description='Generate a cloud from parameters and a '
                       'seed (same seed, same cloud) into a new state file.')
    _state_arg(p)
    p.add_argument('--hosts', type=int, default=16,
                   help='Compute hosts, named cmp001... (default: 16).')
    p.add_argument('--instances', type=int, default=100,
                   help='Instances spread over the hosts (default: 100).')
    p.add_argument('--azs', type=int, default=2,
                   help='Availability zones az1..azK, hosts split in '
                        'contiguous blocks (default: 2).')
    p.add_argument('--aggregates', type=int, default=2,
                   help='Host aggregates agg1..aggN besides the zones\' '
                        '(default: 2).')
    p.add_argument('--anti-affinity-groups', type=int, default=4,
                   help='Anti-affinity server groups (default: 4).')
    p.add_argument('--group-size', type=int, default=3,
                   help='Members per server group (default: 3).')
    p.add_argument('--spare-hosts-per-az', type=int, default=0,
                   help='Hosts of each zone that start empty, as spare '
                        'capacity for maintenance (default: 0).')
    p.add_argument('--non-live-migratable-fraction', type=_fraction,
                   default=0.05,
                   help='Share of instances that cannot be live-migrated '
                        '(metadata %s; half of them on the PCI '
                        'flavor g1.pci) (default: 0.05).'
                        % generate.NO_LIVE_MIGRATION_KEY)
    p.add_argument('--seed', type=int, default=42,
                   help='Random seed (default: 42).')
    p.add_argument('--password',
                   help='Admin password (default: generated).')
    p.add_argument('--time-scale', type=_positive, default=1000.0,
                   help='Simulated seconds per wall second (default: 1000: '
                        'a 60 s live migration takes 60 ms).')
    p.add_argument('--max-hosts-out-of-service', type=int, default=1,
                   help='Referee policy: hosts disabled or down at once '
                        '(default: 1).')
    p.add_argument('--host-vcpus', type=int, default=64)
    p.add_argument('--host-memory-mb', type=int, default=262144)
    p.add_argument('--host-disk-gb', type=int, default=2000)
    p.add_argument('--cpu-allocation-ratio', type=_positive, default=4.0)
    p.add_argument('--ram-allocation-ratio', type=_positive, default=1.0)
    p.add_argument('--disk-allocation-ratio', type=_positive, default=1.0)
    p.add_argument('--package', type=_package, action='append',
                   metavar='NAME=VERSION',
                   help='Initial package version on every host (repeat; '
                        'replaces the default set: %s).' % ', '.join(
                            '%s=%s' % kv for kv in sorted(
                                generate.DEFAULT_PACKAGES.items())))
    p.add_argument('--fault', type=_fault_json, action='append',
                   metavar='JSON',
                   help='A fault to inject from the start, e.g. '
                        '\'{"kind": "migration_stuck", "host": "cmp003"}\' '
                        '(repeat).')
    p.add_argument('--force', action='store_true',
                   help='Replace an existing state file.')
    _format_arg(p)
    p.set_defaults(func=_create)


def _create(args):
    summary = generate.create_cloud(
        args.state, hosts=args.hosts, instances=args.instances, azs=args.azs,
        aggregates=args.aggregates,
        anti_affinity_groups=args.anti_affinity_groups,
        group_size=args.group_size,
        non_live_migratable_fraction=args.non_live_migratable_fraction,
        spare_hosts_per_az=args.spare_hosts_per_az,
        seed=args.seed, password=args.password, time_scale=args.time_scale,
        max_hosts_out_of_service=args.max_hosts_out_of_service,
        host_vcpus=args.host_vcpus, host_memory_mb=args.host_memory_mb,
        host_disk_gb=args.host_disk_gb,
        cpu_allocation_ratio=args.cpu_allocation_ratio,
        ram_allocation_ratio=args.ram_allocation_ratio,
        disk_allocation_ratio=args.disk_allocation_ratio,
        packages=dict(args.package) if args.package else None,
        faults=args.fault, overwrite=args.force)
    if args.output_format == 'json':
        common.print_json(summary)
    else:
        print('Created %(state_file)s: %(hosts)d hosts, %(instances)d '
              'instances (seed %(seed)d).' % summary)


# -- serve -------------------------------------------------------------------

def _add_serve(sub):
    p = sub.add_parser('serve', help='Serve a cloud over HTTP.',
                       description='Serve the Keystone, Nova, Placement, '
                       'host-agent and admin APIs of a state file until '
                       'interrupted. The first line on stdout is the '
                       'Keystone auth URL.')
    _state_arg(p)
    p.add_argument('--host', default='127.0.0.1',
                   help='Address to listen on (default: %(default)s).')
    p.add_argument('--port', type=int, default=0,
                   help='Port; 0 picks a free one (default: 0).')
    p.add_argument('--time-scale', type=_positive,
                   help='Override the time scale stored in the state file.')
    p.add_argument('--clouds-yaml', metavar='PATH',
                   help='Also write a clouds.yaml entry for this server.')
    p.add_argument('--cloud-name', default=server.DEFAULT_CLOUD_NAME,
                   help='Cloud name in clouds.yaml (default: %(default)s).')
    p.add_argument('--debug', action='store_true',
                   help='Log every request on stderr.')
    p.set_defaults(func=_serve)


def _serve(args):
    if not 0 <= args.port <= 65535:
        raise exception.InvalidInput(reason='port must be 0-65535')
    sim = server.SimulatorServer(args.state, host=args.host, port=args.port,
                                 time_scale=args.time_scale)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        sim.start()
    except OSError as e:
        raise exception.InvalidInput(reason='cannot listen on %s:%s: %s'
                                     % (args.host, args.port, e))
    try:
        if args.clouds_yaml:
            sim.write_clouds_yaml(args.clouds_yaml, args.cloud_name)
        print(sim.url, flush=True)
        print('upgrader-simulator: serving %s at %s (Ctrl-C to stop)'
              % (args.state, sim.url), file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()


# -- report ------------------------------------------------------------------

def _add_report(sub):
    p = sub.add_parser('report', help="Print the referee's report.",
                       description="Print the referee's summary: instances "
                       'killed, violations by kind, migrations per '
                       'instance, reboots and package versions per host. '
                       'Exit code 1 when there are violations.')
    _state_arg(p)
    _format_arg(p)
    p.set_defaults(func=_report)


def _report(args):
    data = sim_cloud.read_report(args.state)
    if args.output_format == 'json':
        common.print_json(data)
    else:
        _print_report(args.state, data)
    return common.EXIT_OK if data['ok'] else common.EXIT_WARNING


def _print_report(path, data):
    v = data['violations']
    print('Referee report for %s: %s' % (
        path, 'OK' if data['ok'] else '%d VIOLATION(S)' % v['total']))
    print('Instances: %d, killed: %d' % (data['instances_total'],
                                         data['instances_killed']))
    common.print_table(['Violation', 'Count'], sorted(v['by_kind'].items()))
    if v['details']:
        common.print_table(['Kind', 'Host', 'Instance', 'Message'],
                           [[d['kind'], d['host'], d['instance'],
                             d['message']] for d in v['details']])
    m = data['migrations']
    print('Migrations: %d (%s); completed per instance: max %d, '
          'histogram %s' % (
              m['total'], ', '.join('%s %d' % kv
                                    for kv in m['by_status'].items())
              or 'none', m['per_instance_max'],
              ', '.join('%s: %d' % kv for kv in m['histogram'].items())))
    print('Hosts rebooted: %d of %d' % (data['hosts_rebooted'],
                                        len(data['hosts'])))
    names = sorted({p for h in data['hosts'].values() for p in h['packages']})
    common.print_table(
        ['Host', 'AZ', 'Status', 'State', 'Reboots', 'Instances'] + names,
        [[n, h['az'], h['status'], h['state'], h['reboots'], h['instances']]
         + [h['packages'].get(p) for p in names]
         for n, h in sorted(data['hosts'].items())])


# -- fault -------------------------------------------------------------------

def _add_fault(sub):
    p = sub.add_parser('fault', help='Inject, list or clear faults.',
                       description='Faults live in the state file: running '
                       'servers see them at once.')
    actions = p.add_subparsers(dest='action', metavar='ACTION')
    actions.required = True
    add = actions.add_parser(
        'add', help='Inject a fault.',
        description='Kinds: ' + '; '.join(
            '%s (%s)' % (k, ', '.join(sorted(v[0])))
            for k, v in sorted(faults.KINDS.items())))
    _state_arg(add)
    add.add_argument('--kind', required=True, choices=sorted(faults.KINDS))
    add.add_argument('--host', help='Host the fault applies to.')
    add.add_argument('--instance', help='Instance uuid (migration faults).')
    add.add_argument('--package', help='Package name (package_fail).')
    add.add_argument('--path', help='Regex on the request path (api_*).')
    add.add_argument('--method', help='HTTP method (api_*).')
    add.add_argument('--status', type=int, help='HTTP status (api_error).')
    add.add_argument('--delay', type=float,
                     help='Wall seconds of delay (api_slow).')
    add.add_argument('--probability', type=float,
                     help='Seeded chance per matching migration.')
    add.add_argument('--count', type=int,
                     help='Times it triggers (default: unlimited).')
    _format_arg(add)
    add.set_defaults(func=_fault_add)
    lst = actions.add_parser('list', help='List the faults.')
    _state_arg(lst)
    _format_arg(lst)
    lst.set_defaults(func=_fault_list)
    delete = actions.add_parser('delete', help='Remove one fault.')
    _state_arg(delete)
    delete.add_argument('id', type=int)
    delete.set_defaults(func=_fault_delete)
    clear = actions.add_parser('clear', help='Remove every fault.')
    _state_arg(clear)
    clear.set_defaults(func=_fault_clear)


def _with_state(path, func):
    conn = state.connect(path)
    try:
        with state.transaction(conn):
            return func(conn)
    finally:
        conn.close()


def _fault_add(args):
    spec = {k: getattr(args, k) for k in faults.FIELDS
            if getattr(args, k, None) is not None}
    faults.validate(spec)
    fault_id = _with_state(args.state,
                           lambda conn: faults.add(conn, spec, time.time()))
    if args.output_format == 'json':
        common.print_json({'id': fault_id})
    else:
        print('Fault %d added.' % fault_id)


def _fault_list(args):
    found = _with_state(args.state, faults.list_faults)
    if args.output_format == 'json':
        common.print_json(found)
        return
    common.print_table(
        ['ID', 'Kind', 'Target', 'Remaining', 'Hits'],
        [[f['id'], f['kind'], ' '.join(
            '%s=%s' % (k, f[k]) for k in faults.FIELDS[1:]
            if k in f), f.get('remaining', 'unlimited'), f['hits']]
         for f in found])


def _fault_delete(args):
    if not _with_state(args.state,
                       lambda conn: faults.delete(conn, args.id)):
        raise exception.NotFound(what='fault %d' % args.id)
    print('Fault %d deleted.' % args.id)


def _fault_clear(args):
    count = _with_state(args.state, faults.clear)
    print('%d fault(s) cleared.' % count)


# -- policy and clouds.yaml --------------------------------------------------

def _add_policy(sub):
    p = sub.add_parser('policy', help="Show or set the referee's policy.")
    _state_arg(p)
    p.add_argument('--max-hosts-out-of-service', type=int,
                   help='Hosts disabled or down at once, cloud-wide.')
    p.add_argument('--max-hosts-out-of-service-per-az', type=int,
                   help='Hosts disabled or down at once per zone (-1: no '
                        'limit).')
    p.add_argument('--max-hosts-out-of-service-per-aggregate', type=int,
                   help='Hosts disabled or down at once per host aggregate '
                        '(-1: no limit).')
    p.set_defaults(func=_policy)


def _policy(args):
    changes = {}
    if args.max_hosts_out_of_service is not None:
        if args.max_hosts_out_of_service < 0:
            raise exception.InvalidInput(
                reason='max hosts out of service must not be negative')
        changes['max_hosts_out_of_service'] = args.max_hosts_out_of_service
    for key in ('max_hosts_out_of_service_per_az',
                'max_hosts_out_of_service_per_aggregate'):
        value = getattr(args, key)
        if value is not None:
            changes[key] = None if value < 0 else value
    policy = _with_state(args.state, lambda conn: referee.set_policy(
        conn, changes) if changes else referee.get_policy(conn))
    common.print_json(policy)


def _add_clouds_yaml(sub):
    p = sub.add_parser('clouds-yaml', help='Print or write a clouds.yaml.',
                       description='A clouds.yaml entry with the admin '
                       'credentials of the cloud served at --url.')
    _state_arg(p)
    p.add_argument('--url', required=True,
                   help='The server URL (http://127.0.0.1:PORT) or its '
                        'Keystone auth URL (as printed by serve).')
    p.add_argument('--cloud-name', default=server.DEFAULT_CLOUD_NAME,
                   help='Cloud name (default: %(default)s).')
    p.add_argument('--output', metavar='PATH',
                   help='Add the cloud to this file instead of printing.')
    p.set_defaults(func=_clouds_yaml)


def _clouds_yaml(args):
    url = args.url.rstrip('/')
    if not url.startswith(('http://', 'https://')):
        raise exception.InvalidInput(reason='--url must be an http URL')
    if not url.endswith('/identity/v3'):
        url += '/identity/v3'
    if args.output:
        server.write_clouds_yaml(args.output, args.state, url,
                                 args.cloud_name)
        print('Cloud %s written to %s.' % (args.cloud_name, args.output))
        return
    print(yaml.safe_dump({'clouds': {args.cloud_name: server.cloud_config(
        args.state, url)}}, default_flow_style=False), end='')


def build_parser():
    parser = _Parser(prog='upgrader-simulator', description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for add in (_add_create, _add_serve, _add_report, _add_fault,
                _add_policy, _add_clouds_yaml):
        add(sub)
    return parser


def run(argv=None):
    """Parse argv, run the command, return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, 'debug', False)
        else logging.WARNING, stream=sys.stderr,
        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    try:
        ret = args.func(args)
    except exception.UpgraderException as e:
        common.error(e)
        return e.exit_code
    except KeyboardInterrupt:
        common.error('interrupted')
        return common.EXIT_UNEXPECTED
    except Exception as e:
        LOG.exception('Unexpected error')
        common.error('unexpected error: %s' % e)
        return common.EXIT_UNEXPECTED
    return common.EXIT_OK if ret is None else ret


def main():
    sys.exit(run())


if __name__ == '__main__':
    main()
