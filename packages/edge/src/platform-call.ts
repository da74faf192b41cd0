import type { NodeIdentity } from './sync.ts';

/** What the platform's RFC 9457 problem document says, when the answer is one. */
export interface Problem {
  /** The platform's stable error code (`PALISADE_…`). */
  readonly code: string;
  readonly detail: string;
  /** The failing fields, by JSON pointer (`/body/messages/3/deviceId`). */
  readonly errors: readonly { readonly path: string; readonly message: string }[];
}

/**
 * The problem document in `body`, or undefined when it is none of the platform's (a proxy's
 * page, say): only the platform's own code may decide that a batch can never be accepted.
 */
export function problemOf(body: string): Problem | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { code, detail, errors } = parsed as Record<string, unknown>;
  if (typeof code !== 'string' || !code.startsWith('PALISADE_')) return undefined;
  return {
    code,
    detail: typeof detail === 'string' ? detail : '',
    errors: Array.isArray(errors)
      ? errors.flatMap((e: { path?: unknown; message?: unknown }) =>
          typeof e?.path === 'string' ? [{ path: e.path, message: String(e.message ?? '') }] : [],
        )
      : [],
  };
}

/** The platform answered, but not as hoped (the status says why; 4xx will not heal by itself). */
export class PlatformRefusedError extends Error {
  readonly status: number;
  /** From a 429's or 503's `Retry-After`: wait at least this long before trying again. */
  readonly retryAfterMs: number | undefined;
  readonly problem: Problem | undefined;
  constructor(status: number, body: string, retryAfter: string | null = null) {
    super(`platform answered ${status}: ${body.slice(0, 500)}`);
    this.name = 'PlatformRefusedError';
    this.status = status;
    this.retryAfterMs = retryAfterMs(retryAfter);
    this.problem = problemOf(body);
  }
}

/** The longest delay a Node.js timer keeps; a longer one fires after 1 ms instead. */
const TIMER_MAX_MS = 2_147_483_647;

/**
 * `Retry-After` (RFC 9110: delay-seconds or an HTTP date) in milliseconds from now, at most
 * TIMER_MAX_MS: each loop waits it out on one timer, then asks the platform again.
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Math.min(Number(value.trim()) * 1000, TIMER_MAX_MS);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - now), TIMER_MAX_MS);
}

/** Back-off settings shared by the node's loops. */
export interface Backoff {
  /** First retry delay after a failure; doubles per failure up to `backoffMaxMs`, with full jitter. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

/**
 * How long to wait after the `failures`-th failure in a row: full jitter under an exponential
 * cap, but never less than the platform's `Retry-After` (a quota refusal says when to return).
 */
export function retryDelay(failures: number, settings: Backoff, error: unknown): number {
  const cap = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.min(failures, 20));
  const floor = error instanceof PlatformRefusedError ? (error.retryAfterMs ?? 0) : 0;
  return Math.max(floor, Math.random() * cap);
}

/** One authenticated JSON call of the node to the platform; non-2xx/304 throws PlatformRefusedError. */
export async function callPlatform(
  node: NodeIdentity,
  method: 'GET' | 'POST',
  path: string,
  options: {
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs?: number | undefined;
    /** Aborts the call (e.g. a long poll at shutdown). */
    signal?: AbortSignal;
  },
): Promise<{ status: number; text: string; headers: Headers }> {
  const signals = [
    ...(options.timeoutMs === undefined ? [] : [AbortSignal.timeout(options.timeoutMs)]),
    ...(options.signal === undefined ? [] : [options.signal]),
  ];
  const response = await fetch(new URL(path, node.url), {
    method,
    headers: {
      authorization: `Bearer ${node.credential}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
  });
  const text = await response.text();
  if (response.status >= 300 && response.status !== 304)
    throw new PlatformRefusedError(response.status, text, response.headers.get('retry-after'));
  return { status: response.status, text, headers: response.headers };
}
