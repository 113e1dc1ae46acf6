/**
 * The shape of every batched read. A failed chunk leaves only its own keys out of `values` and adds one line to
 * `errors`, so the caller can treat exactly those members as unknown and still use everything else it read.
 */
export interface ReadResult<K, V> {
  readonly values: Map<K, V>;
  readonly errors: readonly string[];
}

/** Collects values and error lines while an adapter works through its chunks. */
export interface ReadCollector<K, V> {
  readonly values: Map<K, V>;
  readonly errors: string[];
}

/** An empty collector; its fields already satisfy ReadResult. */
export const collector = <K, V>(): ReadCollector<K, V> => ({ values: new Map<K, V>(), errors: [] });
