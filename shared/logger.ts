import { pino } from 'pino';

/** The one logger factory. Per invocation, take a child (`logger.child({ requestId })`) and pass it down. */
export const rootLogger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'vpn-failover' },
  timestamp: pino.stdTimeFunctions.isoTime,
});

/** The narrow logger shape the product's code needs (pino's Logger satisfies it). */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/** A logger that drops everything (the simulator and tests). */
export const silentLogger: Log = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
  child: () => silentLogger,
};
