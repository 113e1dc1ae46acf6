import type { ControllerDeps } from '../shared/controller/types.ts';
import type { SimAccount } from './account.ts';
import type { SimEvent } from './output.ts';
import type { ScenarioCommand } from './scenario.ts';

/**
 * Operator commands that are controller invocations (failover, pause, resume) are sent as the operator's
 * invoke sends them (controllerEvent); the others are carried out by handlers: the resize workflow plugs in
 * here. A scenario that uses a command without a handler records an error event and
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

/** The commands that are controller invocations (the others have handlers). */
export type ControllerCommand = Extract<ScenarioCommand, { command: 'failover' | 'pause' | 'resume' }>;

/** Who the simulator's operator commands say they come from (the CLI sends the caller's identity). */
export const SCENARIO_OPERATOR = 'scenario';

/** The reason a scenario's pause gives when it names none (the controller requires one). */
export const SCENARIO_PAUSE_REASON = 'paused by the scenario';

/** What the operator's Lambda Invoke sends the controller for a command (`vpn-failover failover|pause|resume`). */
export function controllerEvent(command: ControllerCommand): Record<string, unknown> {
  switch (command.command) {
    case 'failover':
      return { action: 'failover', pair: command.pair, to: command.to, force: command.force === true };
    case 'pause':
      return {
        action: 'pause',
        pair: command.pair,
        for: command.for,
        reason: command.reason ?? SCENARIO_PAUSE_REASON,
        by: SCENARIO_OPERATOR,
      };
    case 'resume':
      return { action: 'resume', pair: command.pair, by: SCENARIO_OPERATOR };
  }
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
