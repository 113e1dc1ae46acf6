import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../sim/faults.ts';
import { COMMANDS } from '../../sim/scenario.ts';

/**
 * docs/simulator.md is where users learn what a scenario file may contain: every fault kind and operator command
 * the simulator accepts must be described there, and the fault list names nothing the simulator would reject.
 */
const page = readFileSync(new URL('../../docs/simulator.md', import.meta.url), 'utf8');
const start = page.indexOf('\n## Scenario files\n');
const section = page.slice(start, page.indexOf('\n## ', start + 1));
const faultList = section.slice(
  section.indexOf('Fault kinds:'),
  section.indexOf('\n\n', section.indexOf('Fault kinds:')),
);

describe('the scenario file description', () => {
  it('is a section of the simulator page with a list of fault kinds', () => {
    expect(start).toBeGreaterThanOrEqual(0);
    expect(faultList.startsWith('Fault kinds:')).toBe(true);
  });

  it.each(FAULT_KINDS)('lists the fault kind %s', (kind) => {
    expect(faultList).toContain(`\`${kind}\``);
  });

  it.each(COMMANDS)('describes the operator command %s', (command) => {
    expect(section).toContain(`\`${command}\``);
  });

  it('lists no fault kind the simulator rejects', () => {
    // Each entry of the list starts with the kind's name; what follows in parentheses are its fields.
    const listed = faultList
      .replace(/^Fault kinds:/, '')
      .replace(/\([^)]*\)/g, '')
      .split(/,|\band\b/)
      .flatMap((entry) => [...entry.matchAll(/`([a-z-]+)`/g)].map((m) => m[1] as string));
    expect(listed.filter((kind) => !(FAULT_KINDS as readonly string[]).includes(kind))).toEqual([]);
  });
});
