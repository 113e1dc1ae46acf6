import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * moto's server mode (https://docs.getmoto.org/en/latest/docs/server_mode.html) as a child process on a free
 * loopback port: an EC2, SSM, CloudWatch and DynamoDB emulator written independently of this project, so the
 * requests the SDK clients build and the answers they parse are checked against someone else's reading of the
 * AWS APIs, not against the project's own simulator.
 */
export interface MotoServer {
  readonly endpoint: string;
  /** Stop the server and wait for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 3_000;

/** A port nobody listens on right now, found by letting the kernel pick one on 127.0.0.1. */
async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

/** Resolves once moto answers its own management API, rejects if it exits first or takes too long. */
async function waitUntilAnswering(
  child: ChildProcess,
  endpoint: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto did not answer on ${endpoint} within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  // Never started (no python3), or already gone: there is nothing to wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Start `python3 -m moto.server` bound to 127.0.0.1 only, on a free port, and wait until it answers. */
export async function startMoto(): Promise<MotoServer> {
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // However this process exits (a failed run, an uncaught error), the server does not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    await stopChild(child);
  };
  try {
    await once(child, 'spawn').catch((error: Error) => {
      throw new Error(`cannot start python3 -m moto.server: ${error.message}`);
    });
    await waitUntilAnswering(child, endpoint, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, stop };
}
