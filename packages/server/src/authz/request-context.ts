import { isIP } from 'node:net';
import { type Context, policyToJson, type Type } from '@cedar-policy/cedar-wasm/nodejs';
import { PalisadeError } from '../errors/index.ts';

/** What a request shows the tenant's policies beyond its credential (Cedar's `context`). */
export interface RequestFacts {
  /**
   * The client's address as the gateway sees it: the connection's peer, or what
   * `X-Forwarded-For` names when the peer is one of `trustedProxies`.
   */
  readonly address: string | undefined;
  /** When the request is decided, epoch milliseconds; one value for all its decisions. */
  readonly at: number;
}

/** The attributes of Cedar's `context`, the same for every action (see the schema). */
export const CONTEXT_ATTRIBUTES = {
  ip: { type: 'Extension', name: 'ipaddr' },
  time: { type: 'Extension', name: 'datetime' },
  weekday: { type: 'Long' },
} as const satisfies Record<string, Type<string>>;

export type ContextAttribute = keyof typeof CONTEXT_ATTRIBUTES;

const ALL = new Set(Object.keys(CONTEXT_ATTRIBUTES) as ContextAttribute[]);

/** What `ip` is when the address is not one: seen only by a tenant whose policies never read it. */
const UNSPECIFIED_ADDRESS = '0.0.0.0';

/**
 * The context attributes the policies read, from their parsed form: `context.x` and
 * `context has x` name `x`; `context` used whole (compared, or in a set) names them all.
 * Empty when no policy reads the context: its decisions do not depend on the request.
 */
export function contextAttributesRead(policies: readonly string[]): ReadonlySet<ContextAttribute> {
  const read = new Set<ContextAttribute>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    if (isContext(node)) {
      for (const name of ALL) read.add(name);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      const { left, attr } = (value ?? {}) as { left?: unknown; attr?: unknown };
      if ((key === '.' || key === 'has') && isContext(left) && typeof attr === 'string') {
        if (ALL.has(attr as ContextAttribute)) read.add(attr as ContextAttribute);
        continue;
      }
      visit(value);
    }
  };
  for (const policy of policies) {
    const answer = policyToJson(policy);
    if (answer.type !== 'success')
      throw new PalisadeError('PALISADE_INTERNAL', 'a stored policy no longer converts to JSON');
    visit(answer.json.conditions);
  }
  return read;
}

function isContext(node: unknown): boolean {
  return (node as { Var?: unknown } | null)?.Var === 'context';
}

/**
 * The address as Cedar's `ip()` takes it, or undefined when it is none: an IPv4 address that
 * a dual-stack socket reports as IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address,
 * and a link-local zone (`%eth0`) is dropped.
 */
export function cedarAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const bare = address.replace(/%.*$/, '');
  const version = isIP(bare);
  if (version === 4) return bare;
  if (version !== 6) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  return mapped ?? bare;
}

/** ISO 8601 weekday in UTC: 1 is Monday, 7 Sunday. */
function weekday(at: number): number {
  return ((new Date(at).getUTCDay() + 6) % 7) + 1;
}

/**
 * The part of the context that `read` attributes decide on, as a cache key: undefined when a
 * decision cannot be cached (the policies read the time, which differs every millisecond).
 */
export function contextKey(
  facts: RequestFacts,
  read: ReadonlySet<ContextAttribute>,
): string | undefined {
  if (read.size === 0) return '';
  if (read.has('time')) return undefined;
  return `${read.has('ip') ? cedarAddress(facts.address) : ''}|${read.has('weekday') ? weekday(facts.at) : ''}`;
}

/** Cedar's `context` of a request, or undefined when the policies read an address it lacks. */
export function cedarContext(
  facts: RequestFacts,
  read: ReadonlySet<ContextAttribute>,
): Context | undefined {
  const address = cedarAddress(facts.address);
  if (address === undefined && read.has('ip')) return undefined;
  return {
    ip: { __extn: { fn: 'ip', arg: address ?? UNSPECIFIED_ADDRESS } },
    time: { __extn: { fn: 'datetime', arg: new Date(facts.at).toISOString() } },
    weekday: weekday(facts.at),
  };
}
