import { X509Certificate } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { deviceCertificateRefusal } from '@palisade/crypto';

/** A credential as the platform syncs it down: hashes only, never a secret. */
export type DeviceCredential =
  | { readonly id: string; readonly type: 'access_token'; readonly tokenSha256: string }
  | {
      readonly id: string;
      readonly type: 'mqtt_basic';
      readonly username: string;
      readonly clientId: string | null;
      readonly passwordHash: string;
    }
  | {
      readonly id: string;
      readonly type: 'x509';
      /** Lower-case hex SHA-256 of the device certificate's DER. */
      readonly fingerprint: string;
    };

/** A CA certificate the node's tenant trusts for its devices' client certificates (PEM). */
export interface DeviceCa {
  readonly id: string;
  readonly certificate: string;
}

/** A device assigned to this node, as the platform lists it. */
export interface CachedDevice {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly credentials: readonly DeviceCredential[];
}

/** Names one credential of one device, as the cache holds it now; changes if the credential does. */
function credentialKey(deviceId: string, credential: DeviceCredential): string {
  return `${deviceId}\n${JSON.stringify(credential)}`;
}

/** A device and the credential it authenticated with. */
export interface CredentialMatch {
  readonly device: CachedDevice;
  /** What `holds` takes to tell whether the credential is still the platform's. */
  readonly key: string;
}

/**
 * The node's copy of its devices' credential hashes and certificate fingerprints, and of its
 * tenant's device CAs, in SQLite beside the outbox, so devices can connect while the platform
 * is unreachable. A refresh replaces the whole set in one transaction: a device, credential or
 * CA removed on the platform stops working at the next one. Lookups go to in-memory maps
 * rebuilt on open and on every refresh.
 */
export class CredentialCache {
  readonly #db: DatabaseSync;
  #byToken = new Map<string, CredentialMatch>();
  #byUsername = new Map<string, CredentialMatch & { credential: DeviceCredential }>();
  #byFingerprint = new Map<string, CredentialMatch>();
  #cas: X509Certificate[] = [];
  #keys = new Set<string>();
  #devices = 0;
  readonly #replaced = new Set<() => void>();

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS cache_state (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT;
      CREATE TABLE IF NOT EXISTS cas (id TEXT PRIMARY KEY, pem TEXT NOT NULL) STRICT;
    `);
    this.#index(
      (this.#db.prepare('SELECT body FROM devices').all() as { body: string }[]).map(
        (r) => JSON.parse(r.body) as CachedDevice,
      ),
      (this.#db.prepare('SELECT id, pem FROM cas').all() as { id: string; pem: string }[]).map(
        (r) => ({ id: r.id, certificate: r.pem }),
      ),
    );
  }

  #index(devices: readonly CachedDevice[], cas: readonly DeviceCa[]): void {
    const byToken = new Map<string, CredentialMatch>();
    const byUsername = new Map<string, CredentialMatch & { credential: DeviceCredential }>();
    const byFingerprint = new Map<string, CredentialMatch>();
    const keys = new Set<string>();
    for (const device of devices)
      for (const credential of device.credentials) {
        const key = credentialKey(device.id, credential);
        keys.add(key);
        if (credential.type === 'access_token')
          byToken.set(credential.tokenSha256, { device, key });
        else if (credential.type === 'x509')
          byFingerprint.set(credential.fingerprint, { device, key });
        else byUsername.set(credential.username, { device, key, credential });
      }
    this.#byToken = byToken;
    this.#byUsername = byUsername;
    this.#byFingerprint = byFingerprint;
    this.#cas = cas.map((ca) => new X509Certificate(ca.certificate));
    this.#keys = keys;
    this.#devices = devices.length;
  }

  /** Replaces the whole set (devices and CAs) durably, then serves it. */
  replace(devices: readonly CachedDevice[], at: Date, cas: readonly DeviceCa[] = []): void {
    // A CA that is no certificate would fail every open after this one: refuse it before.
    for (const ca of cas) new X509Certificate(ca.certificate);
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.exec('DELETE FROM devices');
      this.#db.exec('DELETE FROM cas');
      const insert = this.#db.prepare('INSERT INTO devices (id, body) VALUES (?, ?)');
      for (const device of devices) insert.run(device.id, JSON.stringify(device));
      const insertCa = this.#db.prepare('INSERT INTO cas (id, pem) VALUES (?, ?)');
      for (const ca of cas) insertCa.run(ca.id, ca.certificate);
      this.#db
        .prepare("INSERT OR REPLACE INTO cache_state (k, v) VALUES ('refreshedAt', ?)")
        .run(at.toISOString());
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw error;
    }
    this.#index(devices, cas);
    for (const listener of this.#replaced) listener();
  }

  /** Calls `listener` after each replacement; returns what stops that. */
  onReplace(listener: () => void): () => void {
    this.#replaced.add(listener);
    return () => this.#replaced.delete(listener);
  }

  /** True while the credential a match named is still in the set, unchanged. */
  holds(key: string): boolean {
    return this.#keys.has(key);
  }

  /** The device whose access token has this SHA-256 (base64url). */
  byTokenHash(sha256: string): CredentialMatch | undefined {
    return this.#byToken.get(sha256);
  }

  /** The device and MQTT basic credential of a user name. */
  byUsername(username: string) {
    return this.#byUsername.get(username);
  }

  /** The device whose X.509 credential is the certificate of this fingerprint (lower-case hex SHA-256). */
  byFingerprint(fingerprint: string): CredentialMatch | undefined {
    return this.#byFingerprint.get(fingerprint);
  }

  /**
   * Whether a device certificate is, now, one the platform would accept: within its validity
   * and signed by one of the tenant's CAs the cache holds (itself within its validity).
   */
  trusts(certificate: X509Certificate): boolean {
    return deviceCertificateRefusal(certificate, this.#cas, new Date()) === undefined;
  }

  get size(): number {
    return this.#devices;
  }

  /** When the set was last replaced from the platform, or null if never. */
  refreshedAt(): string | null {
    const row = this.#db.prepare("SELECT v FROM cache_state WHERE k = 'refreshedAt'").get() as
      | { v: string }
      | undefined;
    return row?.v ?? null;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
