import { hash, scrypt, timingSafeEqual } from 'node:crypto';
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
}

/** The largest scrypt cost a synced hash may ask for (the platform uses N = 2^14). */
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

/** Checks a password against the platform's `scrypt$N$r$p$salt$hash` (base64url) in constant time. */
function verifyScrypt(password: string, stored: string): Promise<boolean> {
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
 * Undefined means refuse, with no detail.
 */
export async function authenticateDevice(
  cache: CredentialCache,
  clientId: string,
  username: string | undefined,
  password: Buffer | undefined,
): Promise<DeviceGrant | undefined> {
  if (username === undefined || username === '' || username.length > 512) return undefined;
  if (password === undefined) {
    const match = cache.byTokenHash(hash('sha256', username, 'base64url'));
    return match === undefined ? undefined : grant(match);
  }
  const match = cache.byUsername(username);
  if (match === undefined || match.credential.type !== 'mqtt_basic') return undefined;
  if (match.credential.clientId !== null && match.credential.clientId !== clientId)
    return undefined;
  if (!(await verifyScrypt(password.toString('utf8'), match.credential.passwordHash)))
    return undefined;
  return grant(match);
}
