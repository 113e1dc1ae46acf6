import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Comments, tests and docs cite only what a reader can open: the AWS documentation or the project's own docs/.
 * Notes that were never part of the repository (a fact sheet, a design note, a contracts note, a toolchain or style
 * note, and their section signs) must not be cited. The patterns are assembled so that this file does not cite them.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NOTE_NAMES = ['design', 'contracts', 'toolchain', 'style'].map((name) => `${name}\\.md`).join('|');
const FOREIGN_CITATION = new RegExp(`${['aws', 'facts'].join('-')}|(?<![\\w-])(?:${NOTE_NAMES})\\b|\\u00a7`);
const SKIPPED = /^(?:node_modules|cdk\.out|\.git)\//;

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter((path) => path !== '' && !SKIPPED.test(path));

describe('citations', () => {
  it('looks at every tracked file of the repository', () => {
    expect(tracked).toContain('README.md');
    expect(tracked).toContain('shared/decide/decide.ts');
  });

  it('recognises a citation of a note the repository does not contain', () => {
    expect(FOREIGN_CITATION.test(`see ${'design'}.md`)).toBe(true);
    expect(FOREIGN_CITATION.test(`(${['aws', 'facts'].join('-')} \u00a71)`)).toBe(true);
    expect(FOREIGN_CITATION.test('see docs/aws-behaviour.md#route-state')).toBe(false);
  });

  it('no tracked file cites a note the repository does not contain', () => {
    const citing = tracked.flatMap((path) =>
      readFileSync(join(ROOT, path), 'utf8')
        .split('\n')
        .flatMap((line, i) => (FOREIGN_CITATION.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(citing).toEqual([]);
  });
});
