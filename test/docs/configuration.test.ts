import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, DEFAULT_CONTROLLER } from '../../shared/config/schema.ts';
import { parseDurationSeconds } from '../../shared/duration.ts';

/**
 * The configuration reference (docs/configuration.md) states each key's default in its table. A user relies on
 * those for the controller's pace, the thresholds and the tunnel metric, so they must be what the schema fills in.
 */
const reference = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** The Default cell of the reference's table row for `key`, as written (without its backticks). */
function documentedDefault(key: string): string | undefined {
  const row = reference.split('\n').find((line) => line.startsWith(`| \`${key}\``));
  const cell = row?.split('|')[2]?.trim();
  return cell?.replace(/^`(.*)`$/, '$1');
}

/** A minimal configuration as a user writes it, with an empty tunnel block so its defaults are filled in too. */
const parsed = configSchema.parse({
  pairs: [
    {
      name: 'branch-a',
      primary: { instanceId: 'i-0123456789abcdef0' },
      standby: { instanceId: 'i-0fedcba9876543210' },
      routeTables: ['rtb-0a1b2c3d4e5f60718'],
      destinations: ['10.50.0.0/16'],
      tunnel: {},
    },
  ],
});
const pair = parsed.pairs[0];
const tunnel = pair?.tunnel;

/** Keys whose documented default is a duration, with what the schema gives (seconds). */
const DURATIONS: [string, number | undefined][] = [
  ['controller.schedule', parsed.controller.schedule],
  ['controller.fastMode.interval', parsed.controller.fastMode.interval],
  ['controller.probeTimeout', parsed.controller.probeTimeout],
  ['pairs[].cooldown', pair?.cooldown],
];

/** Keys whose documented default is a plain value (YAML as written), with what the schema gives. */
const VALUES: [string, unknown][] = [
  ['controller.fastMode.enabled', parsed.controller.fastMode.enabled],
  ['dryRun', parsed.dryRun],
  ['agent.enabled', parsed.agent.enabled],
  ['pairs[].unhealthyThreshold', pair?.unhealthyThreshold],
  ['pairs[].failback', pair?.failback],
  ['pairs[].failbackAfter', pair?.failbackAfter],
  ['pairs[].probe', pair?.probe],
  ['pairs[].tunnel.namespace', tunnel?.namespace],
  ['pairs[].tunnel.metricName', tunnel?.metricName],
  ['pairs[].tunnel.statistic', tunnel?.statistic],
  ['pairs[].tunnel.period', tunnel?.period],
  ['pairs[].tunnel.threshold', tunnel?.threshold],
  ['pairs[].tunnel.comparison', tunnel?.comparison],
  ['pairs[].tunnel.datapointsToBreach', tunnel?.datapointsToBreach],
];

describe('the configuration reference', () => {
  it('describes the defaults the schema exports for the controller', () => {
    expect(parsed.controller).toEqual(DEFAULT_CONTROLLER);
  });

  it.each(DURATIONS)('states the default of %s as the schema fills it in', (key, actual) => {
    const written = documentedDefault(key);
    expect(written, `no row for ${key}`).toBeDefined();
    expect(parseDurationSeconds(written as string)).toBe(actual);
  });

  it.each(VALUES)('states the default of %s as the schema fills it in', (key, actual) => {
    const written = documentedDefault(key);
    expect(written, `no row for ${key}`).toBeDefined();
    expect(parse(written as string)).toEqual(actual);
  });
});
