/**
 * Time as a dependency. The decision core takes `now` as an argument; the shell (adapters' polling loops,
 * fast mode) takes a Clock so that the simulator can run twenty virtual minutes in milliseconds.
 */
export interface Clock {
  /** epoch ms */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
