import type { ControllerDeps } from '../shared/controller/types.ts';
import type { SimAccount } from './account.ts';
import type { SimEvent } from './output.ts';
import type { ScenarioCommand } from './scenario.ts';

/**
 * Operator commands other than failover (which is a controller trigger) are carried out by handlers: the
 * resize workflow plugs in here. A scenario that uses a command without a handler records an error event and
 * goes on, so the rest of the scenario still runs.
 */

/** An event without its time, as handlers emit them (the runner stamps the virtual time). */
export type UntimedEvent = Untimed<SimEvent>;

type Untimed<E> = E extends unknown ? Omit<E, 't'> : never;

/** What a command handler gets. */
export interface CommandContext {
  readonly account: SimAccount;
  /** the dependencies the controller runs with in this scenario */
  readonly deps: ControllerDeps;
  readonly command: Extract<ScenarioCommand, { command: 'resize' }>;
  /** record an event at the current virtual time */
  emit(event: UntimedEvent): void;
}

/** Carries out a command in virtual time; resolves when it is done. */
export type CommandHandler = (context: CommandContext) => Promise<void>;

/** Handlers by command name. */
export interface CommandHandlers {
  readonly resize?: CommandHandler;
}

/**
 * The handlers this build has: `resize` runs the resize workflow (sim/resize.ts), loaded on first use because it
 * synthesizes the CDK app.
 */
export const DEFAULT_COMMAND_HANDLERS: CommandHandlers = {
  resize: async (context) => (await import('./resize.ts')).resizeCommand(context),
};
