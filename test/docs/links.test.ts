import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every relative link of the README and the docs leads somewhere: the file exists, and a `#anchor` into a
 * markdown page names one of its headings (as GitHub derives heading anchors).
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = [
  'README.md',
  'instance/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const LINK = /\[[^\]]*\]\(([^)\s]+)\)/g;

/** The text outside fenced code blocks, where a bracket is code, not a link. */
const prose = (text: string): string => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2... */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = (match[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Each relative link of a page: where it points (relative to the repository) and its anchor, if any. */
function relativeLinks(page: string): { target: string; file: string; anchor: string | undefined }[] {
  const text = prose(readFileSync(join(ROOT, page), 'utf8'));
  return [...text.matchAll(LINK)]
    .map((match) => match[1] as string)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => {
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), path));
      return { target, file, anchor };
    });
}

describe('links in the README and the docs', () => {
  it('finds the pages and links it checks', () => {
    expect(PAGES).toContain('docs/configuration.md');
    expect(relativeLinks('README.md').length).toBeGreaterThan(5);
  });

  it.each(PAGES)('every relative link of %s resolves to a file and, with an anchor, to a heading', (page) => {
    const broken = relativeLinks(page).flatMap(({ target, file, anchor }) => {
      if (!existsSync(join(ROOT, file))) return [`${target}: no file ${file}`];
      if (anchor === undefined) return [];
      if (!file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory()) return [];
      return anchors(readFileSync(join(ROOT, file), 'utf8')).has(anchor)
        ? []
        : [`${target}: no heading #${anchor} in ${file}`];
    });
    expect(broken).toEqual([]);
  });

  it('derives anchors as GitHub does, so a renamed heading is caught', () => {
    const slugs = anchors(
      '# Acting: one write budget, one writer\n## Settings (`/etc/x-y`)\n## Limits\n## Limits\n',
    );
    expect([...slugs]).toEqual([
      'acting-one-write-budget-one-writer',
      'settings-etcx-y',
      'limits',
      'limits-1',
    ]);
  });
});
