import { CliError, EXIT } from './cli-error.ts';

/** Where and as whom the CLI talks to a running server. */
export interface Connection {
  readonly url: string;
  readonly token: string;
}

export function connectionFrom(
  values: { url?: unknown; token?: unknown },
  env: NodeJS.ProcessEnv,
): Connection {
  const url =
    (typeof values.url === 'string' ? values.url : env.PALISADE_URL) ?? 'http://127.0.0.1:8080';
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
      `cannot reach ${connection.url} (${(error as Error).cause ?? (error as Error).message}); is the server running? Start it with: npm start`,
      EXIT.unreachable,
    );
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const parsed = text === '' ? undefined : JSON.parse(text);
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
