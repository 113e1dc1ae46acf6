import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALARM_KINDS } from '../../shared/domain/plan.ts';

/** The alarm runbook (docs/operations.md) is what the on-call reads when an alarm arrives: it must name every kind. */
const operations = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
const start = operations.indexOf('\n## Alarm runbook\n');
const end = operations.indexOf('\n## Limits\n', start);
const runbook = operations.slice(start, end);

describe('the alarm runbook', () => {
  it('is a section of the operations page, before the limits', () => {
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
  });

  it.each(ALARM_KINDS)('says what %s means and what to do', (kind) => {
    const row = runbook.split('\n').find((line) => line.startsWith(`| \`<stack>.alarm.${kind}\``));
    expect(row).toBeDefined();
    const [, , means, todo] = (row ?? '').split('|').map((cell) => cell.trim());
    expect(means?.length).toBeGreaterThan(20);
    expect(todo?.length).toBeGreaterThan(20);
  });

  it('names no alarm kind the controller does not raise', () => {
    const named = [...runbook.matchAll(/`<stack>\.alarm\.([a-z-]+)`/g)].map((m) => m[1]);
    expect(named.filter((kind) => !(ALARM_KINDS as readonly string[]).includes(kind as string))).toEqual([]);
  });
});
