import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../shared/config/file.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { destinationKind } from '../../shared/config/schema.ts';
import { InputError } from '../../shared/errors.ts';

const pair = (overrides: Record<string, unknown> = {}) => ({
  name: 'branch-a',
  primary: { instanceId: 'i-0123456789abcdef0' },
  standby: { instanceId: 'i-0fedcba9876543210' },
  routeTables: ['rtb-0a1b2c3d4e5f60718'],
  destinations: ['10.50.0.0/16'],
  ...overrides,
});

const problems = (document: unknown) => {
  try {
    parseConfig(document);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected the configuration to be rejected');
};

describe('configuration file', () => {
  it('fills every documented default for a minimal pair', () => {
    const config = parseConfig({ pairs: [pair()] });
    const [p] = config.pairs;
    expect(p).toMatchObject({
      probe: { kind: 'systemd', unit: 'strongswan' },
      unhealthyThreshold: 2,
      cooldown: 300,
      failback: 'manual',
      failbackAfter: 3,
    });
    expect(p?.tunnel).toBeUndefined();
    expect(config.dryRun).toBe(false);
    expect(config.controller).toEqual({
      schedule: 60,
      fastMode: { enabled: false, interval: 10 },
      probeTimeout: 20,
    });
  });

  it('reads the example file in YAML', () => {
    const config = loadConfigFile('examples/pairs.yaml');
    expect(config.pairs.map((p) => p.name)).toEqual(['branch-a']);
    expect(config.pairs[0]?.tunnel).toMatchObject({ datapointsToBreach: 2, statistic: 'Minimum' });
  });

  it('reads JSON as well as YAML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-failover-'));
    const file = join(dir, 'pairs.json');
    writeFileSync(file, JSON.stringify({ pairs: [pair({ cooldown: '90s' })] }));
    expect(loadConfigFile(file).pairs[0]?.cooldown).toBe(90);
  });

  it('reports the contract example of a bad instance id with its path', () => {
    expect(problems({ pairs: [pair(), pair({ name: 'b', standby: { instanceId: 'x' } })] })).toContain(
      'pairs[1].standby.instanceId: expected i-… (got "x")',
    );
  });

  it('lists every problem at once, each with its path', () => {
    const found = problems({
      pairs: [
        pair({
          name: 'Bad_Name',
          primary: { instanceId: 'i-1' },
          destinations: ['10.0.0.1/8', 'nonsense'],
          cooldown: 'soon',
          failback: 'sometimes',
        }),
      ],
      extra: true,
    });
    expect(found).toHaveLength(7);
    expect(found.join('\n')).toMatch(/pairs\[0\]\.name/);
    expect(found.join('\n')).toMatch(/pairs\[0\]\.primary\.instanceId/);
    expect(found.join('\n')).toMatch(/pairs\[0\]\.destinations\[0\].*10\.0\.0\.1\/8/);
    expect(found.join('\n')).toMatch(/pairs\[0\]\.destinations\[1\]/);
    expect(found.join('\n')).toMatch(/pairs\[0\]\.cooldown.*soon/);
    expect(found.join('\n')).toMatch(/pairs\[0\]\.failback/);
    expect(found.join('\n')).toMatch(/extra/);
  });

  it('refuses a pair whose members are the same instance', () => {
    expect(problems({ pairs: [pair({ standby: { instanceId: 'i-0123456789abcdef0' } })] })).toEqual([
      'pairs[0].standby.instanceId: must differ from primary.instanceId (both are i-0123456789abcdef0)',
    ]);
  });

  it('refuses an instance in two pairs and a route managed by two pairs', () => {
    const found = problems({
      pairs: [
        pair(),
        pair({
          name: 'branch-b',
          primary: { instanceId: 'i-0aaaaaaaaaaaaaaa1' },
          standby: { instanceId: 'i-0123456789abcdef0' },
        }),
      ],
    });
    expect(found).toContain(
      'pairs[1].standby.instanceId: i-0123456789abcdef0 is already a member of pair branch-a',
    );
    expect(found).toContain(
      'pairs[1].destinations: route 10.50.0.0/16 in rtb-0a1b2c3d4e5f60718 is already managed by pair branch-a',
    );
  });

  it('refuses duplicate pair names', () => {
    const found = problems({
      pairs: [
        pair(),
        pair({
          primary: { instanceId: 'i-0aaaaaaaaaaaaaaa1' },
          standby: { instanceId: 'i-0aaaaaaaaaaaaaaa2' },
          routeTables: ['rtb-0b1b2c3d4e5f60718'],
        }),
      ],
    });
    expect(found).toEqual(['pairs[1].name: duplicate pair name branch-a']);
  });

  it('refuses a file that is not YAML, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-failover-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'pairs: [\n  - name: x\n  bad');
    expect(() => loadConfigFile(file)).toThrow(/broken\.yaml/);
  });

  it('refuses a schedule below the one-minute Scheduler rate', () => {
    expect(problems({ pairs: [pair()], controller: { schedule: '30s' } })[0]).toMatch(/controller\.schedule/);
  });

  it.each([
    ['10.50.0.0/16', 'ipv4'],
    ['2001:db8::/32', 'ipv6'],
    ['2001:db8:0:0:0:0:0:0/64', 'ipv6'],
    ['pl-0123456789abcdef0', 'prefix-list'],
    ['10.50.0.1/16', undefined],
    ['300.0.0.0/8', undefined],
    ['2001:db8:::/32', undefined],
    ['2001:db8::1/64', undefined],
  ])('classifies destination %s as %s', (value, kind) => {
    expect(destinationKind(value)).toBe(kind);
  });

  // EC2 reports IPv6 destinations in RFC 5952 form (https://www.rfc-editor.org/rfc/rfc5952#section-4); a
  // destination written any other way would never match the route EC2 shows, so the file's spelling is normalised.
  it.each([
    ['2001:db8::/64', '2001:db8::/64'],
    ['2001:DB8:0:0::/64', '2001:db8::/64'],
    ['2001:0db8::/64', '2001:db8::/64'],
    ['2001:db8:0:0:0:0:0:0/64', '2001:db8::/64'],
    ['2001:0DB8:0050:0000:0000:0000:0000:0000/48', '2001:db8:50::/48'],
    ['64:FF9B::/96', '64:ff9b::/96'],
    ['0:0:0:0:0:0:0:0/0', '::/0'],
    ['2001:0:0:1:0:0:0:0/128', '2001:0:0:1::/128'],
    ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ['2001:db8::1:1:1:1:1/128', '2001:db8:0:1:1:1:1:1/128'],
    ['fd00:0:0:0:0:0:0:0/8', 'fd00::/8'],
  ])('manages IPv6 destination %s as EC2 shows it, %s', (written, canonical) => {
    expect(parseConfig({ pairs: [pair({ destinations: [written] })] }).pairs[0]?.destinations).toEqual([
      canonical,
    ]);
  });

  it.each([
    [
      '2001:db8::1/64',
      'expected a network CIDR, host bits zero (got "2001:db8::1/64", whose network is 2001:db8::/64)',
    ],
    [
      '2001:DB8::8000:0/96',
      'expected a network CIDR, host bits zero (got "2001:DB8::8000:0/96", whose network is 2001:db8::/96)',
    ],
    [
      '10.50.0.1/16',
      'expected a network CIDR, host bits zero (got "10.50.0.1/16", whose network is 10.50.0.0/16)',
    ],
    [
      '::ffff:10.0.0.0/104',
      'expected the embedded IPv4 address written as two hex groups, 10.0.0.0 as a00:0 (got "::ffff:10.0.0.0/104")',
    ],
    [
      '2001:db8::/129',
      'expected an IPv4 or IPv6 network CIDR (host bits zero) or a pl-… prefix list (got "2001:db8::/129")',
    ],
    [
      '2001:db8::1::/64',
      'expected an IPv4 or IPv6 network CIDR (host bits zero) or a pl-… prefix list (got "2001:db8::1::/64")',
    ],
    [
      '2001:db8:0:0:0:0:0:0:0/64',
      'expected an IPv4 or IPv6 network CIDR (host bits zero) or a pl-… prefix list (got "2001:db8:0:0:0:0:0:0:0/64")',
    ],
    [
      '1:2:3:4:5:6:7:8::/128',
      'expected an IPv4 or IPv6 network CIDR (host bits zero) or a pl-… prefix list (got "1:2:3:4:5:6:7:8::/128")',
    ],
    [
      '12345::/16',
      'expected an IPv4 or IPv6 network CIDR (host bits zero) or a pl-… prefix list (got "12345::/16")',
    ],
  ])('refuses destination %s, naming where it is and what was written', (written, message) => {
    expect(problems({ pairs: [pair({ destinations: ['10.50.0.0/16', written] })] })).toEqual([
      `pairs[0].destinations[1]: ${message}`,
    ]);
  });

  it('refuses two spellings of one IPv6 destination, in one pair or in two', () => {
    const found = problems({
      pairs: [
        pair({ destinations: ['2001:db8::/64', '2001:DB8:0:0::/64'] }),
        pair({
          name: 'branch-b',
          primary: { instanceId: 'i-0aaaaaaaaaaaaaaa1' },
          standby: { instanceId: 'i-0aaaaaaaaaaaaaaa2' },
          destinations: ['2001:0db8::/64'],
        }),
      ],
    });
    expect(found).toEqual([
      'pairs[0].destinations[1]: duplicate destination 2001:db8::/64',
      'pairs[1].destinations: route 2001:db8::/64 in rtb-0a1b2c3d4e5f60718 is already managed by pair branch-a',
    ]);
  });
});
