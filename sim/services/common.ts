import { serviceFault } from '../faults.ts';

/** Helpers shared by the simulated services' handlers. */

/** A simulated API action: the SDK command's input in, its output (without $metadata) out. */
export type Handler = (input: never) => object | Promise<object>;

/** The actions of one simulated service, by SDK command name without the "Command" suffix. */
export type ServiceHandlers = Readonly<Record<string, Handler>>;

/** A Filters entry of an EC2 Describe call. */
export interface Filter {
  readonly Name?: string | undefined;
  readonly Values?: readonly string[] | undefined;
}

/** EC2 filter values may use * and ? wildcards. */
function globMatches(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return regex.test(value);
}

/**
 * Keep the items every filter matches. `fields` maps each supported filter name to the values an item has for
 * it (a table matches a route filter when any of its routes does). An unsupported name is an error, as EC2
 * answers for a filter it does not know.
 */
export function applyFilters<T>(
  items: readonly T[],
  filters: readonly Filter[] | undefined,
  fields: Readonly<Record<string, (item: T) => readonly (string | undefined)[]>>,
): T[] {
  let kept = [...items];
  for (const filter of filters ?? []) {
    const name = filter.Name ?? '';
    const read = fields[name];
    if (!read) throw serviceFault('InvalidParameterValue', `The filter '${name}' is invalid`);
    const wanted = filter.Values ?? [];
    kept = kept.filter((item) =>
      read(item).some((value) => value !== undefined && wanted.some((w) => globMatches(w, value))),
    );
  }
  return kept;
}

/** One page of `items` per MaxResults/NextToken (the token is the offset, opaque to callers). */
export function paginate<T>(
  items: readonly T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
): { page: T[]; nextToken?: string } {
  const start = nextToken === undefined ? 0 : Number(nextToken);
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    throw serviceFault('InvalidNextToken', 'The token is invalid or has expired');
  }
  if (maxResults === undefined) return { page: items.slice(start) };
  const end = start + maxResults;
  return end < items.length
    ? { page: items.slice(start, end), nextToken: String(end) }
    : { page: items.slice(start) };
}

/** "The instance ID 'i-1' does not exist" / "The instance IDs 'i-1, i-2' do not exist", as EC2 words it. */
export function notFoundMessage(noun: string, ids: readonly string[]): string {
  return ids.length === 1
    ? `The ${noun} ID '${ids[0]}' does not exist`
    : `The ${noun} IDs '${ids.join(', ')}' do not exist`;
}
