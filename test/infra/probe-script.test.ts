import { describe, expect, it } from 'vitest';
import { PROBE_EXIT_NO_PARAMETERS, PROBE_SCRIPT, probeDocumentContent } from '../../infra/probe-document.ts';
import { runWithFakes } from './stubs.ts';

/**
 * The exact script the probe document ships (SSM runs runCommand joined by newlines under sh), run against
 * fake daemons. SSM reports Success only for exit 0 (aws-facts.md §4 "Statuses"), so every unhealthy or
 * undeterminable state must exit non-zero.
 */
const shipped = (
  probeDocumentContent() as { mainSteps: { inputs: { runCommand: string[] } }[] }
).mainSteps[0]?.inputs.runCommand.join('\n') as string;

const swanctlWith = (established: number) =>
  `printf 'tunnel-%s: #%s, ESTABLISHED, IKEv2\\n' ${Array.from({ length: established }, (_, i) => `${i} ${i}`).join(' ')} | head -n ${established}`;

describe('daemon probe script', () => {
  it('is the script the document ships', () => {
    expect(shipped).toBe(PROBE_SCRIPT);
  });

  it('reports strongSwan healthy with at least the required established SAs', () => {
    const run = runWithFakes(
      'sh',
      shipped,
      { swanctl: swanctlWith(2) },
      { SSM_ProbeKind: 'strongswan', SSM_MinSas: '2' },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('healthy: 2 established SAs (at least 2 required)\n');
  });

  it('reports strongSwan unhealthy with fewer established SAs than required', () => {
    const run = runWithFakes(
      'sh',
      shipped,
      { swanctl: swanctlWith(1) },
      { SSM_ProbeKind: 'strongswan', SSM_MinSas: '2' },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('unhealthy: 1 established SAs (at least 2 required)\n');
  });

  it('reports strongSwan unhealthy when the daemon does not answer', () => {
    const run = runWithFakes(
      'sh',
      shipped,
      { swanctl: 'echo "connecting to unix:///var/run/charon.vici failed" >&2; exit 1' },
      {
        SSM_ProbeKind: 'strongswan',
        SSM_MinSas: '1',
      },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('unhealthy: 0 established SAs');
  });

  it('falls back to the legacy ipsec status of strongSwan when swanctl is not installed', () => {
    const run = runWithFakes(
      'sh',
      shipped,
      { ipsec: `[ "$1" = status ] && echo 'office[1]: ESTABLISHED 5 minutes ago'` },
      {
        SSM_ProbeKind: 'strongswan',
        SSM_MinSas: '1',
      },
    );
    expect(run.status).toBe(0);
    expect(run.calls).toEqual(['ipsec status']);
  });

  it('counts Libreswan IPsec SAs from ipsec trafficstatus', () => {
    const traffic = `[ "$1" = trafficstatus ] && printf '%s\\n' '006 #3: "office/0x1", type=ESP, add_time=1, inBytes=0' '006 #4: "lab", type=ESP, add_time=1, inBytes=0'`;
    expect(
      runWithFakes('sh', shipped, { ipsec: traffic }, { SSM_ProbeKind: 'libreswan', SSM_MinSas: '2' }).status,
    ).toBe(0);
    expect(
      runWithFakes('sh', shipped, { ipsec: traffic }, { SSM_ProbeKind: 'libreswan', SSM_MinSas: '3' }).status,
    ).toBe(1);
  });

  it('reports a systemd unit healthy only when it is active', () => {
    const systemctl = (state: string) => `echo ${state}; [ ${state} = active ]`;
    const env = { SSM_ProbeKind: 'systemd', SSM_Unit: 'strongswan-starter' };
    const active = runWithFakes('sh', shipped, { systemctl: systemctl('active') }, env);
    expect(active.status).toBe(0);
    expect(active.calls).toEqual(['systemctl is-active -- strongswan-starter']);
    const failed = runWithFakes('sh', shipped, { systemctl: systemctl('failed') }, env);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toBe('unhealthy: strongswan-starter is failed\n');
  });

  it('never evaluates a parameter as shell, even if one got past the allowed pattern', () => {
    const run = runWithFakes(
      'sh',
      shipped,
      { systemctl: 'echo inactive; exit 3', touch: '' },
      {
        SSM_ProbeKind: 'systemd',
        SSM_Unit: '$(touch pwned); `touch pwned`',
      },
    );
    expect(run.status).toBe(1);
    expect(run.calls).toEqual(['systemctl is-active -- $(touch pwned); `touch pwned`']);
  });

  it('exits with its own status when the agent passed no parameters (agent older than 3.3.2746.0)', () => {
    const run = runWithFakes('sh', shipped, {}, {});
    expect(run.status).toBe(PROBE_EXIT_NO_PARAMETERS);
    expect(run.stdout).toMatch(/^unknown: SSM_ProbeKind is not set/);
  });

  it('prints one short line, well under the 2,500 characters ListCommandInvocations keeps', () => {
    const run = runWithFakes(
      'sh',
      shipped,
      { systemctl: 'echo inactive; exit 3' },
      { SSM_ProbeKind: 'systemd', SSM_Unit: 'u'.repeat(128) },
    );
    expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stdout.length).toBeLessThan(300);
  });
});
