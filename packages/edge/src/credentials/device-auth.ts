import { hash, randomBytes, scrypt, timingSafeEqual, X509Certificate } from 'node:crypto';
import { fingerprintOf } from '@palisade/crypto';
import type { CredentialCache, CredentialMatch } from './credential-cache.ts';

/** A device the node authenticated from its cached credentials. */
export interface EdgeDevice {
  readonly deviceId: string;
  readonly name: string;
  readonly type: string;
}

/** An authenticated device and its credential's key (see `CredentialCache.holds`). */
export interface DeviceGrant {
  readonly device: EdgeDevice;
  readonly credential: string;
  /** The client certificate it presented: the cache's CAs must go on trusting it. */
  readonly certificate?: X509Certificate;
}

/** The largest scrypt cost a synced hash may ask for (the platform uses N = 2^14). */
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

/** Checks a password against a synced hash; `verifyScrypt` unless a test counts the calls. */
export type PasswordVerifier = (password: string, stored: string) => Promise<boolean>;

/**
 * A hash at the platform's scrypt cost (N = 2^14, r = 8, p = 1) that no password matches (its
 * digest is random): checking an unknown user name against it costs what a known one does.
 */
const UNMATCHABLE = [
  'scrypt',
  16_384,
  8,
  1,
  randomBytes(16).toString('base64url'),
  randomBytes(32).toString('base64url'),
].join('$');

/** Checks a password against the platform's `scrypt$N$r$p$salt$hash` (base64url) in constant time. */
export function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, digest] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || digest === undefined)
    return Promise.resolve(false);
  const expected = Buffer.from(digest, 'base64url');
  const options = { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT_MAXMEM };
  return new Promise((resolve) =>
    scrypt(password, Buffer.from(salt, 'base64url'), expected.length, options, (error, key) =>
      resolve(error === null && timingSafeEqual(key, expected)),
    ),
  );
}

const grant = ({ device, key }: CredentialMatch): DeviceGrant => ({
  device: { deviceId: device.id, name: device.name, type: device.type },
  credential: key,
});

/**
 * Authenticates devices as the platform does, from the node's cached credential hashes:
 * an access token as the MQTT user name with no password (ThingsBoard), or MQTT basic
 * credentials (user name, password, and the client id when the credential is bound to one).
 * Undefined means refuse, with no detail. A password is verified once whatever else is wrong,
 * so the answer's timing does not tell an unknown user name or a client id that does not
 * match from a wrong password.
 */
export async function authenticateDevice(
  cache: CredentialCache,
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
  verify: PasswordVerifier = verifyScrypt,
): Promise<DeviceGrant | undefined> {
  if (username === undefined || username === '' || username.length > 512) return undefined;
  if (password === undefined) {
    const match = cache.byTokenHash(hash('sha256', username, 'base64url'));
    return match === undefined ? undefined : grant(match);
  }
  const match = cache.byUsername(username);
  const credential = match?.credential.type === 'mqtt_basic' ? match.credential : undefined;
  const verified = await verify(password.toString('utf8'), credential?.passwordHash ?? UNMATCHABLE);
  if (!verified || match === undefined || credential === undefined) return undefined;
  if (credential.clientId !== null && credential.clientId !== clientId) return undefined;
  return grant(match);
}

/**
 * Authenticates a device by the client certificate it presented at the TLS handshake, as the
 * platform does: its fingerprint names the device's X.509 credential, and it must chain, now,
 * to a CA of the tenant's. A certificate decides alone: no user name or password is looked at.
 */
export function authenticateCertificate(
  cache: CredentialCache,
  der: Buffer,
): DeviceGrant | undefined {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch {
    return undefined;
  }
  const match = cache.byFingerprint(fingerprintOf(certificate));
  if (match === undefined || !cache.trusts(certificate)) return undefined;
  return { ...grant(match), certificate };
}
