import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../shared/config/schema.ts';

/** The README is a landing page people finish; everything beyond it lives in docs/. */
const README = new URL('../../README.md', import.meta.url);
const README_MAX_BYTES = 15 * 1024;

describe('the README', () => {
  it('stays a landing page of at most 15 KB', () => {
    expect(statSync(README).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  it('shows a minimal configuration the deployment accepts as it is written', () => {
    const text = readFileSync(README, 'utf8');
    const section = text.slice(text.indexOf('\n## A minimal configuration\n'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const result = configSchema.safeParse(parse(yaml as string));
    expect(result.error?.issues ?? []).toEqual([]);
  });
});
