import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The README is a landing page people finish; everything beyond it lives in docs/. */
const README_MAX_BYTES = 15 * 1024;

describe('the README', () => {
  it('stays a landing page of at most 15 KB', () => {
    const bytes = statSync(new URL('../../README.md', import.meta.url)).size;
    expect(bytes).toBeLessThanOrEqual(README_MAX_BYTES);
  });
});
