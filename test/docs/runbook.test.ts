import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALARM_KINDS } from '../../shared/domain/plan.ts';

/** The README's alarm runbook is what the on-call reads when an alarm arrives: it must name every alarm kind. */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const runbook = readme.slice(readme.indexOf('### Alarm runbook'), readme.indexOf('### Limits'));

describe('the alarm runbook', () => {
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
