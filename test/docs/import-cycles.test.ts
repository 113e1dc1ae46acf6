import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The code has no import loops: a module never needs, directly or through others, a module that needs it
 * (type-only imports included, since they tie the two modules' shapes together just the same). A loop makes
 * the folders' layering (shared below infra, sim and cli) a lie and the load order fragile.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FOLDERS = ['shared', 'infra', 'sim', 'cli', 'functions', 'bench'];
const IMPORT = /(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/g;

function sources(folder: string): string[] {
  return readdirSync(join(ROOT, folder)).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [normalize(path)] : [];
  });
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of FOLDERS.flatMap(sources)) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)]
      .map((match) => normalize(join(dirname(file), match[1] as string)))
      .filter((target) => existsSync(join(ROOT, target)));
    graph.set(file, targets);
  }
  return graph;
}

/** Every strongly connected group of more than one module (Tarjan), each sorted. */
function loops(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) as number, low.get(target) as number));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) as number, index.get(target) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        group.push(member);
      } while (member !== node);
      if (group.length > 1) found.push(group.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the import graph', () => {
  it('has no loops among the product modules', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(50);
    expect(loops(graph).map((group) => group.map((file) => relative('.', file)))).toEqual([]);
  });

  it('finds a loop when there is one (the checker itself)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(loops(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });
});
