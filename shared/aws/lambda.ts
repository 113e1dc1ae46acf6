import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { toControllerError } from './errors.ts';

/**
 * Synchronous Lambda invocation (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): the operator
 * CLI sends the controller a command and reads its answer.
 */

/** The function's own failure: what Lambda returns as the payload when FunctionError is set. */
export interface FunctionFailure {
  /** Unhandled (the runtime caught it) or Handled */
  readonly kind: string;
  /** the error's name, e.g. BadEventError */
  readonly errorType?: string;
  readonly errorMessage: string;
}

/** What an invocation returned. */
export type InvokeResult =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly failure: FunctionFailure };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Invoke a function with a JSON payload and wait for its answer (InvocationType RequestResponse). A function
 * that threw resolves to `ok: false` with its errorType and errorMessage; a failure of the Invoke call itself
 * (no permission, no such function, throttled) throws a typed error.
 */
export async function invokeFunction(
  lambda: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<InvokeResult> {
  let response: InvokeCommandOutput;
  try {
    response = await lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: encoder.encode(JSON.stringify(payload)),
      }),
    );
  } catch (error) {
    throw toControllerError(error, `Invoke ${functionName}`);
  }
  const text = response.Payload === undefined ? '' : decoder.decode(response.Payload);
  const body = parseJson(text);
  if (response.FunctionError !== undefined) {
    const error = (body ?? {}) as { errorType?: unknown; errorMessage?: unknown };
    return {
      ok: false,
      failure: {
        kind: response.FunctionError,
        ...(typeof error.errorType === 'string' ? { errorType: error.errorType } : {}),
        errorMessage:
          typeof error.errorMessage === 'string' ? error.errorMessage : text || 'no error message',
      },
    };
  }
  return { ok: true, payload: body };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (a runtime that died mid-answer): keep the text, so the caller can show what came back.
    return text;
  }
}
