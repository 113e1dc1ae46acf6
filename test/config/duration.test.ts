import { describe, expect, it } from 'vitest';
import { formatSeconds, parseDurationSeconds } from '../../shared/duration.ts';

describe('durations in config and scenario files', () => {
  it.each([
    ['90s', 90],
    ['2m', 120],
    ['1h', 3600],
    ['250ms', 0.25],
    ['1m30s', 90],
    ['1h 5m', 3900],
    ['120', 120],
    [45, 45],
  ] as const)('reads %j as %d seconds', (text, seconds) => {
    expect(parseDurationSeconds(text)).toBe(seconds);
  });

  it.each(['soon', '5 minutes', 'm5', '-3s', '', '1m30', Number.NaN, -1])('refuses %j', (text) => {
    expect(parseDurationSeconds(text)).toBeUndefined();
  });

  it('reads back what it prints', () => {
    for (const seconds of [5, 59.5, 60, 75, 3600, 3725]) {
      expect(parseDurationSeconds(formatSeconds(seconds))).toBe(seconds);
    }
  });
});
