import type { Config } from '../shared/config/schema.ts';
import {
  PROBE_EXIT_NOT_RESPONDING,
  PROBE_EXIT_UNKNOWN,
  PROBE_PARAMETERS,
} from '../shared/telemetry-names.ts';
import type { LatencyModel } from './latency.ts';
import type { SimCommand, SimEni, SimInstance } from './world-model.ts';

/**
 * The probe script (instance/vpn-failover-check.sh) as it runs on a simulated instance: what it prints, what it
 * exits with and how long it waits, from the instance's real condition. The SSM probe (sim/world.ts) and the
 * member agent (sim/agent.ts) both run it.
 */

/** What the script sees of the account: its configuration, its timings and the members' real condition. */
export interface ProbeHost {
  readonly config: Config;
  readonly latency: LatencyModel;
  readonly instances: ReadonlyMap<string, SimInstance>;
  readonly enis: ReadonlyMap<string, SimEni>;
  guestUp(instance: SimInstance): boolean;
  daemonActive(instance: SimInstance): boolean;
  tunnelUp(instance: SimInstance): boolean;
}

/**
 * What the probe document's script (instance/vpn-failover-check.sh) prints and exits with on this instance
 * right now, and how long it waits on the way: systemd checks the unit, strongSwan (swanctl) and Libreswan
 * count installed CHILD SAs (one per destination of the pair while the tunnel is up). A hung daemon leaves its
 * control command to the script's command timeout (exit PROBE_EXIT_NOT_RESPONDING); `systemctl is-active`
 * still answers `active` for it, since systemd only sees that the process is running (the shipped strongSwan
 * and Libreswan units set no WatchdogSec=, https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html).
 * With PeerAddresses, the verdict line is followed by the partner's ping result.
 */
export function runProbe(
  world: ProbeHost,
  command: SimCommand,
  instance: SimInstance,
): { exitCode: number; output: string; waitedMs: number } {
  const param = (name: string) => command.parameters[name]?.[0] ?? '';
  const kind = param(PROBE_PARAMETERS.kind);
  if (kind === '') {
    return {
      exitCode: PROBE_EXIT_UNKNOWN,
      output:
        'unknown: SSM_ProbeKind is not set (parameters as environment variables need SSM Agent 3.3.2746.0 or later)',
      waitedMs: 0,
    };
  }
  // The script's SSM_CommandTimeout when the command sets it (the controller confirming an agent's report).
  const commandTimeout = Number(param(PROBE_PARAMETERS.commandTimeout));
  const verdict = daemonCheck(
    world,
    instance,
    { kind, unit: param(PROBE_PARAMETERS.unit), minSas: param(PROBE_PARAMETERS.minSas) },
    commandTimeout > 0 ? commandTimeout * 1000 : world.latency.ssm.probeCommandTimeoutMs,
  );
  const peer = pingPartner(world, instance, param(PROBE_PARAMETERS.peerAddresses));
  return {
    exitCode: verdict.exitCode,
    output: peer === undefined ? verdict.line : `${verdict.line}\n${peer.line}`,
    waitedMs: verdict.waitedMs + (peer?.waitedMs ?? 0),
  };
}

/**
 * What instance/vpn-failover-check.sh prints and exits with on this instance right now, with the probe settings
 * it gets (SSM_ProbeKind, SSM_Unit, SSM_MinSas) and the per-command timeout it runs under: the SSM probe and
 * the member agent run the very same script.
 */
export function daemonCheck(
  world: ProbeHost,
  instance: SimInstance,
  settings: { readonly kind: string; readonly unit: string; readonly minSas: string },
  timeout: number,
): { exitCode: number; line: string; waitedMs: number } {
  const { kind } = settings;
  const hung = (commandLine: string) => ({
    exitCode: PROBE_EXIT_NOT_RESPONDING,
    line: `unhealthy: daemon not responding: '${commandLine}' did not answer within ${timeout / 1000} s`,
    waitedMs: timeout,
  });
  if (kind === 'systemd') {
    const unit = settings.unit;
    const known = unit === instance.daemonUnit;
    const active = known && (world.daemonActive(instance) || instance.daemonHung);
    return active
      ? { exitCode: 0, line: `healthy: ${unit} is active`, waitedMs: 0 }
      : {
          exitCode: 1,
          line: `unhealthy: ${unit} is ${known ? 'inactive' : 'not known to systemd'}`,
          waitedMs: 0,
        };
  }
  if (kind === 'strongswan' || kind === 'libreswan') {
    if (instance.daemonHung)
      return hung(kind === 'strongswan' ? 'swanctl --list-sas' : 'ipsec trafficstatus');
    const minSas = Number(settings.minSas || '1');
    const pair = world.config.pairs.find((p) => p.name === instance.pair);
    const sas = world.tunnelUp(instance) ? (pair?.destinations.length ?? 1) : 0;
    if (sas >= minSas) {
      return {
        exitCode: 0,
        line: `healthy: ${sas} installed CHILD SAs (at least ${minSas} required)`,
        waitedMs: 0,
      };
    }
    // swanctl also counts IKE SAs: the simulated tunnel has one while its CHILD SAs are installed.
    const ike = kind === 'strongswan' ? `, ${sas > 0 ? 1 : 0} IKE SAs established` : '';
    return {
      exitCode: 1,
      line: `unhealthy: ${sas} installed CHILD SAs${ike} (at least ${minSas} required)`,
      waitedMs: 0,
    };
  }
  return {
    exitCode: PROBE_EXIT_UNKNOWN,
    line: `unknown: probe kind ${kind} is not supported`,
    waitedMs: 0,
  };
}

/**
 * The script's peer check: find this instance's pair in PeerAddresses ("a-b,c-d") by its own addresses, ping
 * the partner, print "peer ADDRESS reachable|unreachable" (PROBE_PEER_LINE). The partner answers while its
 * guest OS runs with its network (guestUp); a stopped, hung or impaired partner, or an address no attached ENI
 * holds, does not.
 */
function pingPartner(
  world: ProbeHost,
  instance: SimInstance,
  peers: string,
): { line: string; waitedMs: number } | undefined {
  if (peers === '') return undefined;
  const own = new Set(
    instance.enis.flatMap((id) => {
      const eni = world.enis.get(id);
      return eni && !eni.deleted ? [eni.privateIp] : [];
    }),
  );
  let partner: string | undefined;
  for (const entry of peers.split(',')) {
    const [first = '', second = ''] = entry.split('-');
    if (own.has(first)) partner = second;
    else if (own.has(second)) partner = first;
  }
  if (partner === undefined) return undefined;
  const eni = [...world.enis.values()].find((e) => e.privateIp === partner && !e.deleted);
  const host = eni?.instanceId === undefined ? undefined : world.instances.get(eni.instanceId);
  const answers = host !== undefined && world.guestUp(host);
  const s = world.latency.ssm;
  return answers
    ? { line: `peer ${partner} reachable`, waitedMs: s.peerPingAnswered }
    : { line: `peer ${partner} unreachable`, waitedMs: s.peerPingUnanswered };
}
