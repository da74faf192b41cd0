import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { CliError, EXIT } from './cli-error.ts';

const NOT_JSON = Symbol('not JSON');

/** Where and as whom the CLI talks to a running server. */
export interface Connection {
  readonly url: string;
  readonly token: string;
}

/** The arguments of a command that calls a running server: --url, --token and `options`. */
export function parseApiArgs<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, ...options },
  });
}

export function connectionFrom(
  values: { url?: unknown; token?: unknown },
  env: NodeJS.ProcessEnv,
): Connection {
  const url =
    (typeof values.url === 'string' ? values.url : env.PALISADE_URL) ?? 'http://127.0.0.1:8080';
  if (!/^https?:$/.test(URL.parse(url)?.protocol ?? '')) {
    throw new CliError(
      `--url / PALISADE_URL ${JSON.stringify(url)} is not an http(s) URL; give the server's address, e.g. http://127.0.0.1:8080`,
      EXIT.usage,
    );
  }
  const token = typeof values.token === 'string' ? values.token : env.PALISADE_TOKEN;
  if (token === undefined || token === '') {
    throw new CliError(
      'no token: pass --token or set PALISADE_TOKEN (the platform-admin token printed at first start)',
      EXIT.usage,
    );
  }
  return { url: url.replace(/\/+$/, ''), token };
}

/** Calls the API; a problem+json answer becomes a CliError carrying the server's detail. */
export async function callApi<T>(
  connection: Connection,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${connection.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${connection.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new CliError(
      `cannot reach ${connection.url} (${reason(error)}); is the server running? Start it with ` +
        '`palisade start`, or point --url / PALISADE_URL at it',
      EXIT.unreachable,
    );
  }
  if (response.status === 204) return undefined as T;
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new CliError(
      `${connection.url} broke off its answer (${reason(error)}); the request may have taken effect: check that the server is up (and its log) before running it again`,
      EXIT.unreachable,
    );
  }
  const parsed = parseJson(text);
  if (parsed === NOT_JSON) {
    throw new CliError(
      `${connection.url} answered HTTP ${response.status} without JSON; is --url / PALISADE_URL a Palisade server?`,
    );
  }
  if (!response.ok) {
    const problem = parsed as
      | { code?: string; detail?: string; errors?: { path: string; message: string }[] }
      | undefined;
    const details = (problem?.errors ?? []).map((e) => `\n  ${e.path}: ${e.message}`).join('');
    throw new CliError(
      `${problem?.code ?? `HTTP ${response.status}`}: ${problem?.detail ?? text}${details}`,
    );
  }
  return parsed as T;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/** The short network reason of a failed fetch, e.g. `ECONNREFUSED`. */
function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return (error as Error).message;
}
