import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBE_EXIT_NO_PARAMETERS, PROBE_SCRIPT, probeDocumentContent } from '../../infra/probe-document.ts';
import {
  PROBE_EXIT_NOT_RESPONDING,
  PROBE_PARAMETER_PATTERNS,
  PROBE_PEER_LINE,
} from '../../shared/telemetry-names.ts';
import { type Fakes, HANGING, printing, runWithFakesAsync, swanctl } from './stubs.ts';

/**
 * The exact script the probe document ships (SSM runs runCommand joined by newlines), run under bash and under
 * POSIX sh against fake daemon tools that print what the real ones print. SSM reports Success only for exit 0
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html), so every state that is not
 * positively healthy must exit non-zero.
 */
const shipped = (
  probeDocumentContent() as { mainSteps: { inputs: { runCommand: string[] } }[] }
).mainSteps[0]?.inputs.runCommand.join('\n') as string;

const INTERPRETERS = ['bash', 'sh'] as const;

/** Each daemon command may take this long in the tests (the shipped default is 2 s; timeout(1) takes fractions). */
const TEST_TIMEOUT = { VPN_FAILOVER_CHECK_TIMEOUT: '0.3' };

const STRONGSWAN = { SSM_ProbeKind: 'strongswan', SSM_MinSas: '1', ...TEST_TIMEOUT };

interface Case {
  readonly name: string;
  readonly fakes: Fakes;
  readonly env: Record<string, string>;
  readonly status: number;
  readonly line: string | RegExp;
}

const CASES: readonly Case[] = [
  {
    name: 'strongSwan (swanctl) up with 2 installed CHILD SAs is healthy',
    fakes: { swanctl: swanctl(2) },
    env: { ...STRONGSWAN, SSM_MinSas: '2' },
    status: 0,
    line: 'healthy: 2 installed CHILD SAs (at least 2 required)',
  },
  {
    name: 'strongSwan (swanctl) with fewer installed CHILD SAs than required is unhealthy',
    fakes: { swanctl: swanctl(1) },
    env: { ...STRONGSWAN, SSM_MinSas: '2' },
    status: 1,
    line: 'unhealthy: 1 installed CHILD SAs, 1 IKE SAs established (at least 2 required)',
  },
  {
    name: 'strongSwan (swanctl) with an IKE SA but no CHILD SA is unhealthy: it carries no traffic',
    fakes: { swanctl: swanctl(0) },
    env: STRONGSWAN,
    status: 1,
    line: 'unhealthy: 0 installed CHILD SAs, 1 IKE SAs established (at least 1 required)',
  },
  {
    name: 'strongSwan (swanctl) with no SAs at all is unhealthy',
    fakes: { swanctl: printing('--list-sas', '') },
    env: STRONGSWAN,
    status: 1,
    line: 'unhealthy: 0 installed CHILD SAs, 0 IKE SAs established (at least 1 required)',
  },
  {
    name: 'strongSwan whose charon does not answer swanctl is unhealthy',
    fakes: {
      swanctl: `echo "connecting to 'unix:///var/run/charon.vici' failed: No such file or directory" >&2; exit 1`,
    },
    env: STRONGSWAN,
    status: 1,
    line: 'unhealthy: charon does not answer (swanctl --list-sas exit 1)',
  },
  {
    name: 'strongSwan whose swanctl hangs is unhealthy, not responding, within the command timeout',
    fakes: { swanctl: HANGING },
    env: STRONGSWAN,
    status: PROBE_EXIT_NOT_RESPONDING,
    line: "unhealthy: daemon not responding: 'swanctl --list-sas' did not answer within 0.3 s",
  },
  {
    name: 'strongSwan (stroke ipsec status) counts installed CHILD SAs, not IKE SAs',
    fakes: {
      ipsec: printing(
        'status',
        `Security Associations (1 up, 0 connecting):
      office[1]: ESTABLISHED 5 minutes ago, 10.0.1.10[vpn-a]...198.51.100.7[branch]
      office{1}:  INSTALLED, TUNNEL, reqid 1, ESP in UDP SPIs: c1234567_i c7654321_o
      office{1}:   10.0.0.0/16 === 10.50.0.0/16`,
      ),
    },
    env: { ...STRONGSWAN, SSM_MinSas: '2' },
    status: 1,
    line: 'unhealthy: 1 installed CHILD SAs, 1 IKE SAs established (at least 2 required)',
  },
  {
    name: 'strongSwan with neither swanctl nor ipsec installed is unhealthy',
    fakes: {},
    env: STRONGSWAN,
    status: 1,
    line: 'unhealthy: neither swanctl nor ipsec is installed',
  },
  {
    name: 'Libreswan counts IPsec SAs from ipsec trafficstatus',
    fakes: {
      ipsec: printing(
        'trafficstatus',
        `006 #3: "office/0x1", type=ESP, add_time=1700000000, inBytes=0, outBytes=0, id='@branch'
006 #4: "lab", type=ESP, add_time=1700000000, inBytes=0, outBytes=0, id='@lab'`,
      ),
    },
    env: { SSM_ProbeKind: 'libreswan', SSM_MinSas: '2', ...TEST_TIMEOUT },
    status: 0,
    line: 'healthy: 2 installed CHILD SAs (at least 2 required)',
  },
  {
    name: 'Libreswan falls back to ipsec whack --trafficstatus',
    fakes: {
      ipsec: `[ "$1" = whack ] || exit 1
echo '#3: "office/0x1", type=ESP, add_time=1700000000, inBytes=0, outBytes=0'`,
    },
    env: { SSM_ProbeKind: 'libreswan', SSM_MinSas: '1', ...TEST_TIMEOUT },
    status: 0,
    line: 'healthy: 1 installed CHILD SAs (at least 1 required)',
  },
  {
    name: 'Libreswan with no IPsec SA is unhealthy',
    fakes: { ipsec: printing('trafficstatus', '') },
    env: { SSM_ProbeKind: 'libreswan', SSM_MinSas: '1', ...TEST_TIMEOUT },
    status: 1,
    line: 'unhealthy: 0 installed CHILD SAs (at least 1 required)',
  },
  {
    name: 'Libreswan whose pluto is not running is unhealthy',
    fakes: { ipsec: `echo 'whack: Pluto is not running (no "/run/pluto/pluto.ctl")' >&2; exit 1` },
    env: { SSM_ProbeKind: 'libreswan', SSM_MinSas: '1', ...TEST_TIMEOUT },
    status: 1,
    line: 'unhealthy: pluto does not answer (ipsec trafficstatus exit 1)',
  },
  {
    name: 'Libreswan whose ipsec hangs is unhealthy, not responding',
    fakes: { ipsec: HANGING },
    env: { SSM_ProbeKind: 'libreswan', SSM_MinSas: '1', ...TEST_TIMEOUT },
    status: PROBE_EXIT_NOT_RESPONDING,
    line: "unhealthy: daemon not responding: 'ipsec trafficstatus' did not answer within 0.3 s",
  },
  {
    name: 'a systemd unit that is active is healthy',
    fakes: { systemctl: printing('is-active -- strongswan-starter', 'active') },
    env: { SSM_ProbeKind: 'systemd', SSM_Unit: 'strongswan-starter', ...TEST_TIMEOUT },
    status: 0,
    line: 'healthy: strongswan-starter is active',
  },
  {
    name: 'a systemd unit that failed is unhealthy',
    fakes: { systemctl: printing('is-active -- strongswan-starter', 'failed', 3) },
    env: { SSM_ProbeKind: 'systemd', SSM_Unit: 'strongswan-starter', ...TEST_TIMEOUT },
    status: 1,
    line: 'unhealthy: strongswan-starter is failed',
  },
  {
    name: 'a systemctl that hangs (systemd or D-Bus wedged) is unhealthy, not responding',
    fakes: { systemctl: HANGING },
    env: { SSM_ProbeKind: 'systemd', SSM_Unit: 'strongswan', ...TEST_TIMEOUT },
    status: PROBE_EXIT_NOT_RESPONDING,
    line: "unhealthy: daemon not responding: 'systemctl is-active -- strongswan' did not answer within 0.3 s",
  },
];

// The runs are independent and many wait on a timeout (a hung daemon, a silent ping), so they run side by side.
describe.concurrent('daemon probe script', () => {
  it('is the file instance/vpn-failover-check.sh, which the document ships verbatim', () => {
    const file = readFileSync(new URL('../../instance/vpn-failover-check.sh', import.meta.url), 'utf8');
    expect(shipped).toBe(file.trimEnd());
    expect(PROBE_SCRIPT).toBe(file);
  });

  for (const interpreter of INTERPRETERS) {
    describe(`under ${interpreter}`, () => {
      for (const c of CASES) {
        it(`${c.name} (exit ${c.status})`, async () => {
          const run = await runWithFakesAsync(interpreter, shipped, c.fakes, c.env);
          expect(run.status).toBe(c.status);
          const lines = run.stdout.split('\n').filter(Boolean);
          expect(lines).toHaveLength(1);
          if (typeof c.line === 'string') expect(lines[0]).toBe(c.line);
          else expect(lines[0]).toMatch(c.line);
        });
      }
    });
  }

  it('by default gives a hung daemon command 2 s, so a hung daemon is seen in seconds, far inside the SSM execution timeout', async () => {
    const started = Date.now();
    const run = await runWithFakesAsync('sh', shipped, { swanctl: HANGING }, { SSM_ProbeKind: 'strongswan' });
    expect(run.status).toBe(PROBE_EXIT_NOT_RESPONDING);
    expect(run.stdout).toContain("'swanctl --list-sas' did not answer within 2 s");
    expect(Date.now() - started).toBeLessThan(3_500);
  });

  it('never evaluates a parameter as shell, even if one got past the allowed pattern', async () => {
    const run = await runWithFakesAsync(
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

  it('exits with its own status when the agent passed no parameters (agent older than 3.3.2746.0)', async () => {
    const run = await runWithFakesAsync('sh', shipped, {}, {});
    expect(run.status).toBe(PROBE_EXIT_NO_PARAMETERS);
    expect(run.stdout).toMatch(/^unknown: SSM_ProbeKind is not set/);
  });

  it('prints one short line, well under the 2,500 characters ListCommandInvocations keeps', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { systemctl: 'echo inactive; exit 3' },
      { SSM_ProbeKind: 'systemd', SSM_Unit: 'u'.repeat(128) },
    );
    expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stdout.length).toBeLessThan(300);
  });
});

/** A fake ping that answers for every address except the ones listed, which give no reply (exit 1). */
const pingAnsweringExcept = (...silent: string[]): string =>
  `for a in "$@"; do :; done\ncase "$a" in ${silent.length === 0 ? '__none__' : silent.join('|')}) exit 1 ;; esac\nexit 0`;

/** A fake `ip -o -4 addr show` for an instance with these IPv4 addresses (and loopback). */
const ipShowing = (...addresses: string[]): string =>
  printing(
    '-o -4 addr show',
    [
      '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
      ...addresses.map(
        (a, i) =>
          `${i + 2}: eth${i}    inet ${a}/24 metric 512 brd 10.0.255.255 scope global dynamic eth${i}\\       valid_lft 3200sec preferred_lft 3200sec`,
      ),
    ].join('\n'),
  );

// Side by side too: the ping and daemon timeouts below are waited for, not computed.
describe.concurrent('daemon probe script: the peer check', () => {
  const SELF = '10.0.1.10';
  const PEER = '10.0.2.20';
  /** This pair and two others, probed by the same command. */
  const PAIRS = `10.0.3.30-10.0.4.40,${SELF}-${PEER},10.0.5.50-10.0.6.60`;
  const WITH_PEERS = { ...STRONGSWAN, SSM_PeerAddresses: PAIRS };
  const lines = (stdout: string) => stdout.split('\n').filter(Boolean);

  for (const interpreter of INTERPRETERS) {
    it(`under ${interpreter}, finds its own pair among those probed together and reports its partner unreachable after the verdict, which keeps its exit status`, async () => {
      const run = await runWithFakesAsync(
        interpreter,
        shipped,
        { swanctl: swanctl(1), ip: ipShowing(SELF), ping: pingAnsweringExcept(PEER) },
        WITH_PEERS,
      );
      expect(run.status).toBe(0);
      expect(lines(run.stdout)).toEqual([
        'healthy: 1 installed CHILD SAs (at least 1 required)',
        `peer ${PEER} unreachable`,
      ]);
      expect(run.calls.filter((c) => c.startsWith('ping'))).toEqual([`ping -n -c 2 -i 0.2 -W 1 ${PEER}`]);
    });
  }

  it('the second member of a pair pings the first, and reports it reachable', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(1), ip: ipShowing('172.31.0.9', PEER), ping: pingAnsweringExcept() },
      WITH_PEERS,
    );
    expect(lines(run.stdout)).toEqual([
      'healthy: 1 installed CHILD SAs (at least 1 required)',
      `peer ${SELF} reachable`,
    ]);
  });

  it('an unhealthy daemon still exits 1, with the peer line after its verdict', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(0), ip: ipShowing(SELF), ping: pingAnsweringExcept() },
      WITH_PEERS,
    );
    expect(run.status).toBe(1);
    expect(lines(run.stdout)[0]).toMatch(/^unhealthy: 0 installed CHILD SAs/);
    expect(lines(run.stdout).slice(1)).toEqual([`peer ${PEER} reachable`]);
  });

  it('a hung daemon still exits not responding, and the partner is still reported', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: HANGING, ip: ipShowing(SELF), ping: pingAnsweringExcept(PEER) },
      WITH_PEERS,
    );
    expect(run.status).toBe(PROBE_EXIT_NOT_RESPONDING);
    expect(lines(run.stdout).slice(1)).toEqual([`peer ${PEER} unreachable`]);
  });

  it('a ping that fails for another reason says unknown, not unreachable', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      {
        swanctl: swanctl(1),
        ip: ipShowing(SELF),
        ping: 'echo "ping: sendmsg: Operation not permitted" >&2; exit 2',
      },
      WITH_PEERS,
    );
    expect(run.status).toBe(0);
    expect(lines(run.stdout).slice(1)).toEqual([`peer ${PEER} unknown`]);
  });

  it('a ping that hangs says unknown within its own 3 s timeout', async () => {
    const started = Date.now();
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(1), ip: ipShowing(SELF), ping: HANGING },
      WITH_PEERS,
    );
    expect(lines(run.stdout).slice(1)).toEqual([`peer ${PEER} unknown`]);
    expect(Date.now() - started).toBeLessThan(4_500);
  });

  it("keeps the ping's own timeout when the daemon commands get 1 s (a confirmation of an agent's report)", async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(1), ip: ipShowing(SELF), ping: `sleep 1.5; exit 1` },
      { ...WITH_PEERS, SSM_CommandTimeout: '1' },
    );
    expect(lines(run.stdout)).toEqual([
      'healthy: 1 installed CHILD SAs (at least 1 required)',
      `peer ${PEER} unreachable`,
    ]);
  });

  it('gives each daemon command the SSM_CommandTimeout the controller asks for: a hung daemon is not responding after 1 s', async () => {
    const started = Date.now();
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: HANGING },
      { SSM_ProbeKind: 'strongswan', SSM_CommandTimeout: '1' },
    );
    expect(run.status).toBe(4);
    expect(Date.now() - started).toBeLessThan(1_900);
  });

  it('pings nothing when none of its addresses is in a listed pair, or ip cannot say which are its own', async () => {
    for (const ip of [ipShowing('192.168.7.7'), 'exit 1']) {
      const run = await runWithFakesAsync(
        'sh',
        shipped,
        { swanctl: swanctl(1), ip, ping: 'exit 0' },
        WITH_PEERS,
      );
      expect(run.status).toBe(0);
      expect(lines(run.stdout)).toHaveLength(1);
      expect(run.calls.filter((c) => c.startsWith('ping'))).toEqual([]);
    }
  });

  it('pings nothing and prints only the verdict when no pairs are given (the member agent runs it so)', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(1), ip: ipShowing(SELF), ping: 'exit 0' },
      STRONGSWAN,
    );
    expect(lines(run.stdout)).toHaveLength(1);
    expect(run.calls).toEqual(['swanctl --list-sas']);
  });

  it('never pings something that is not an address, even if it got past the allowed pattern', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(1), ip: ipShowing(SELF), ping: 'exit 0', touch: '' },
      { ...STRONGSWAN, SSM_PeerAddresses: `${SELF}-$(touch pwned),*-${SELF}` },
    );
    expect(run.calls.filter((c) => !c.startsWith('swanctl') && !c.startsWith('ip '))).toEqual([]);
  });

  it('prints a peer line the SSM adapter parses', async () => {
    const run = await runWithFakesAsync(
      'sh',
      shipped,
      { swanctl: swanctl(1), ip: ipShowing(SELF), ping: pingAnsweringExcept(PEER) },
      WITH_PEERS,
    );
    expect(lines(run.stdout).filter((line) => PROBE_PEER_LINE.test(line))).toEqual([
      `peer ${PEER} unreachable`,
    ]);
  });

  it('the document accepts up to 25 pairs of dotted IPv4 addresses (one command of 50 instances), or none, and nothing else', () => {
    const pattern = new RegExp(PROBE_PARAMETER_PATTERNS.peerAddresses);
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i}.1-10.1.${i}.1`).join(',');
    for (const ok of ['', '10.0.1.10-10.0.2.20', PAIRS, '255.255.255.255-0.0.0.0', pairs(25)]) {
      expect(pattern.test(ok), ok).toBe(true);
    }
    for (const bad of [
      '10.0.1.10',
      '10.0.1.10,10.0.2.20',
      '10.0.1.256-10.0.2.20',
      '10.0.1-10.0.2.20',
      '10.0.1.10-10.0.2.20;reboot',
      '10.0.1.10-10.0.2.20 ',
      'a.b.c.d-10.0.2.20',
      '10.0.1.10-10.0.2.20,',
      pairs(26),
    ]) {
      expect(pattern.test(bad), bad).toBe(false);
    }
    const document = probeDocumentContent() as {
      parameters: Record<string, { allowedPattern: string; default: string }>;
    };
    expect(document.parameters.PeerAddresses).toMatchObject({
      allowedPattern: PROBE_PARAMETER_PATTERNS.peerAddresses,
      default: '',
    });
  });
});
