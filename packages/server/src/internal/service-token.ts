/**
 * Service tokens: what one Palisade process attaches to every internal message it sends to
 * another, so that no process trusts the network (NATS included).
 *
 * Format: `v1.<base64url(claims JSON)>.<base64url(HMAC-SHA256)>`, the MAC over
 * `palisade-service-token/v1.` ‖ the claims part, under a key the KMS derives from the master
 * key with the label {@link SERVICE_TOKEN_LABEL} (every role holds the master key already).
 * The claims bind the message: its subject and the SHA-256 of its payload, the sender's roles
 * and process id, a random `jti`, and a lifetime of at most {@link SERVICE_TOKEN_MAX_LIFETIME_MS}
 * (a receiver remembers the `jti`s it took until they expire: see `ReplayGuard`). `kid` is the
 * master key's public id, so after `palisade keys rotate-master` (the platform is stopped
 * for it) every process derives the new key and a token under the old one is refused by name.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kms } from '@palisade/crypto';

/** The KMS label of the service-token key. */
export const SERVICE_TOKEN_LABEL = 'palisade/service-token/v1';
/** The longest a token may live (the design's "short-lived": 60 s). */
export const SERVICE_TOKEN_MAX_LIFETIME_MS = 60_000;
/** How far a sender's clock may run ahead of the receiver's. */
const CLOCK_SKEW_MS = 5_000;
const MAC_CONTEXT = Buffer.from('palisade-service-token/v1.');

/** What a token says about its message and sender. */
export interface ServiceClaims {
  /** The master key id the MAC key was derived from. */
  readonly kid: string;
  /** The sender's roles, e.g. `api` or `api,ingest,worker`. */
  readonly role: string;
  /** The sending process (`<host>/<pid>/<random>`), for the logs. */
  readonly pid: string;
  /** Issued at, ms since the epoch. */
  readonly iat: number;
  /** Expires at, ms since the epoch. */
  readonly exp: number;
  /** The NATS subject the message was sent on. */
  readonly sub: string;
  /** base64url SHA-256 of the payload bytes. */
  readonly sha: string;
  /** A random id (96 bits, base64url): a receiver takes each token once. */
  readonly jti: string;
}

/** Why a token was refused (the metric's `reason` label). */
export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'key'
  | 'signature'
  | 'expired'
  | 'lifetime'
  | 'subject'
  | 'payload'
  | 'role'
  | 'replay';

/** The outcome of {@link ServiceTokens.verify}. */
export type TokenCheck =
  | { readonly ok: true; readonly claims: ServiceClaims }
  | { readonly ok: false; readonly reason: TokenRefusal };

function digest(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('base64url');
}

function parseClaims(text: string): ServiceClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const c = value as Record<string, unknown>;
  const strings = ['kid', 'role', 'pid', 'sub', 'sha', 'jti'].every(
    (k) => typeof c[k] === 'string',
  );
  const numbers = ['iat', 'exp'].every((k) => Number.isSafeInteger(c[k]));
  return strings && numbers ? (c as unknown as ServiceClaims) : undefined;
}

/** Signs and verifies service tokens with the KMS-held key of the current master key. */
export class ServiceTokens {
  readonly #kms: Kms;
  readonly #role: string;
  readonly #pid: string;
  readonly #lifetimeMs: number;

  /**
   * @param sender - This process's roles and id, put in every token it signs.
   * @param lifetimeMs - Lifetime of the tokens it signs (at most 60 s).
   */
  constructor(kms: Kms, sender: { role: string; pid: string }, lifetimeMs: number) {
    if (lifetimeMs > SERVICE_TOKEN_MAX_LIFETIME_MS || lifetimeMs < 1)
      throw new RangeError(`a service token lives 1 to ${SERVICE_TOKEN_MAX_LIFETIME_MS} ms`);
    this.#kms = kms;
    this.#role = sender.role;
    this.#pid = sender.pid;
    this.#lifetimeMs = lifetimeMs;
  }

  /** A token for `payload` sent on `subject`, valid from `now`. */
  async sign(subject: string, payload: Uint8Array, now: number = Date.now()): Promise<string> {
    const claims: ServiceClaims = {
      kid: this.#kms.keyId,
      role: this.#role,
      pid: this.#pid,
      iat: now,
      exp: now + this.#lifetimeMs,
      sub: subject,
      sha: digest(payload),
      jti: randomBytes(12).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `v1.${body}.${Buffer.from(await this.#mac(body)).toString('base64url')}`;
  }

  /**
   * Checks `token` for a message on `subject` carrying `payload`, sent by a process with one
   * of `roles`. The MAC is checked before any claim is believed.
   */
  async verify(
    token: string | undefined,
    message: { subject: string; payload: Uint8Array; roles: readonly string[] },
    now: number = Date.now(),
  ): Promise<TokenCheck> {
    if (token === undefined || token === '') return { ok: false, reason: 'missing' };
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, reason: 'malformed' };
    const [, body, mac] = parts as [string, string, string];
    const claims = parseClaims(body);
    if (claims === undefined) return { ok: false, reason: 'malformed' };
    if (claims.kid !== this.#kms.keyId) return { ok: false, reason: 'key' };
    const expected = Buffer.from(await this.#mac(body));
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, reason: 'signature' };
    if (claims.exp - claims.iat > SERVICE_TOKEN_MAX_LIFETIME_MS || claims.iat > now + CLOCK_SKEW_MS)
      return { ok: false, reason: 'lifetime' };
    if (claims.exp <= now) return { ok: false, reason: 'expired' };
    if (claims.sub !== message.subject) return { ok: false, reason: 'subject' };
    if (claims.sha !== digest(message.payload)) return { ok: false, reason: 'payload' };
    if (!claims.role.split(',').some((role) => message.roles.includes(role)))
      return { ok: false, reason: 'role' };
    return { ok: true, claims };
  }

  #mac(body: string): Promise<Uint8Array> {
    return this.#kms.mac(SERVICE_TOKEN_LABEL, Buffer.concat([MAC_CONTEXT, Buffer.from(body)]));
  }
}
