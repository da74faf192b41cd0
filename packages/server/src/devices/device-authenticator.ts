import { X509Certificate } from 'node:crypto';
import { LookupCache, type LookupCacheOptions } from '../caches/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { andThen, type MaybePromise } from '../maybe-promise/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneDeviceIndex, DeviceCredentialMatch, DeviceRow } from '../store/index.ts';
import { issueTenantContext } from '../tenancy/tenant-context.ts';
import type { DeviceAuthenticator, DeviceIdentity, NewChild } from './device-contract.ts';
import {
  certificateLookup,
  checkDeviceCertificate,
  fingerprintOf,
  mqttLookup,
  type PasswordVerifier,
  provisioningLookup,
  tokenLookup,
  unmatchablePasswordHash,
  verifyPassword,
} from './device-credentials.ts';
import {
  DEVICE_NAME_MAX_LENGTH,
  type DeviceInput,
  type DeviceRegistry,
  newChildRow,
} from './device-registry.ts';

/** The credential an identity was made from, and until when it was last found current. */
interface Issued {
  readonly lookup: string;
  readonly credentialId: string;
  /** An X.509 identity's certificate (PEM): its chain to the tenant's CAs is checked again. */
  readonly certificate: string | undefined;
  generation: number;
  until: number;
}

/** A gateway's child identity: current while its gateway's is and the child is still linked. */
interface ChildLink {
  readonly gateway: DeviceIdentity;
  generation: number;
  until: number;
}

function unknownProvisioningKey(): PalisadeError {
  return new PalisadeError(
    'PALISADE_DEVICE_UNAUTHENTICATED',
    'the provisioning key is unknown or already used',
  );
}

/**
 * Device authentication against the control plane's credential index: one lookup by the
 * credential's hash (or MQTT user name, or certificate fingerprint) gives the tenant and
 * device; the device is then read from its tenant's store, so a deleted device or tenant
 * authenticates nobody. Lookups are cached for `cache.ttlMs` (the `authCacheTtlMs` setting),
 * unknown credentials under a bound of their own (`authCacheMissesMax`) so a flood of made-up
 * ones never pushes out a real one. A device or credential change in this process drops that
 * tenant's cached credentials (and the unknown ones) at once and has its identities checked
 * again; other tenants' stay cached, other processes see it within the TTL. A gateway creates its children
 * by naming them (up to the `gatewayChildrenMax` setting, counted by the registry). MQTT passwords
 * are checked by `verify` (scrypt; a test may count its calls), once per attempt whatever
 * the user name.
 */
export class DeviceAuthority implements DeviceAuthenticator {
  readonly #index: ControlPlaneDeviceIndex;
  readonly #locate: TenantStoreLocator;
  readonly #registry: DeviceRegistry;
  readonly #ttlMs: number;
  readonly #verify: PasswordVerifier;
  /** Checked when a user name is unknown, so that costs what a wrong password does. */
  readonly #unmatchable = unmatchablePasswordHash();
  readonly #cache: LookupCache<DeviceCredentialMatch>;
  readonly #issued = new WeakMap<DeviceIdentity, Issued>();
  readonly #children = new WeakMap<DeviceIdentity, ChildLink>();
  /** Bumped by every credential change in this process. */
  #generation = 0;
  /**
   * The generation of each tenant's last device or credential change, while an identity
   * issued before it may still be taken as current (`ttlMs`): identities of that tenant
   * checked before it are checked again; other tenants' are not.
   */
  readonly #changed = new Map<string, { readonly generation: number; readonly at: number }>();

  constructor(
    index: ControlPlaneDeviceIndex,
    locate: TenantStoreLocator,
    registry: DeviceRegistry,
    cache: LookupCacheOptions,
    verify: PasswordVerifier = verifyPassword,
  ) {
    this.#index = index;
    this.#locate = locate;
    this.#registry = registry;
    this.#ttlMs = cache.ttlMs;
    this.#cache = new LookupCache(cache);
    this.#verify = verify;
  }

  /** Drops the cached credentials of one tenant (deleted or suspended); its identities are checked again. */
  forgetTenant(tenantId: string): void {
    this.#cache.dropFound((match) => match.tenant.id === tenantId);
    this.#generation++;
    const now = Date.now();
    // An identity checked before a change older than ttlMs has expired anyway.
    for (const [id, change] of this.#changed) {
      if (change.at + this.#ttlMs > now) break;
      this.#changed.delete(id);
    }
    this.#changed.delete(tenantId);
    this.#changed.set(tenantId, { generation: this.#generation, at: now });
  }

  /**
   * A device or credential of the tenant changed in this process: its cached credentials and
   * those remembered as unknown (a new credential may have been tried before it existed) are
   * dropped, and its identities checked again; other tenants' stay cached.
   */
  credentialsChanged(tenantId: string): void {
    this.#cache.clearMissing();
    this.forgetTenant(tenantId);
  }

  /** Whether an identity of `tenantId` last found current at `generation` still is. */
  #unchanged(tenantId: string, generation: number): boolean {
    return generation >= (this.#changed.get(tenantId)?.generation ?? 0);
  }

  async #lookup(lookup: string): Promise<DeviceCredentialMatch | undefined> {
    const now = Date.now();
    const cached = this.#cache.get(lookup, now);
    if (cached !== undefined) return cached.value;
    const match = await this.#index.findCredential(lookup);
    this.#cache.set(lookup, match, now);
    return match;
  }

  /** Whether a device certificate is, now, within its validity and signed by a CA its tenant trusts. */
  async #chained(tenantId: string, certificate: string): Promise<boolean> {
    const cas = await this.#index.listCas(tenantId);
    try {
      checkDeviceCertificate(
        certificate,
        cas.map((ca) => ca.pem),
        new Date(),
      );
      return true;
    } catch {
      return false;
    }
  }

  async #identity(
    match: DeviceCredentialMatch | undefined,
    certificate?: string,
  ): Promise<DeviceIdentity | undefined> {
    if (match === undefined || match.tenant.status !== 'active') return undefined;
    const deviceId = match.credential.deviceId;
    if (deviceId === null) return undefined;
    const context = issueTenantContext(match.tenant, { kind: 'device', id: `device:${deviceId}` });
    const device = await (await this.#locate(context)).reader.devices.getDevice(deviceId);
    if (device === undefined) return undefined;
    const identity = { context, deviceId, deviceName: device.name, isGateway: device.isGateway };
    this.#issued.set(identity, {
      lookup: match.credential.lookup,
      credentialId: match.credential.id,
      certificate,
      generation: this.#generation,
      until: Date.now() + this.#ttlMs,
    });
    return identity;
  }

  current(identity: DeviceIdentity): MaybePromise<boolean> {
    const link = this.#children.get(identity);
    if (link !== undefined) return this.#linked(identity, link);
    const issued = this.#issued.get(identity);
    if (issued === undefined) return false;
    const generation = this.#generation;
    const now = Date.now();
    if (this.#unchanged(identity.context.tenantId, issued.generation) && issued.until > now)
      return true;
    return this.#lookup(issued.lookup).then(async (match) => {
      // A certificate also stops authenticating once its CA is deleted or it or its CA expires.
      const valid =
        match?.credential.id === issued.credentialId &&
        match.tenant.status === 'active' &&
        (issued.certificate === undefined ||
          (await this.#chained(match.tenant.id, issued.certificate)));
      if (valid) {
        issued.generation = generation;
        issued.until = now + this.#ttlMs;
      }
      return valid;
    });
  }

  /**
   * Whether a child identity still stands: its gateway's credential does, and the child is
   * still that gateway's (not moved to another, unlinked or deleted). The link is cached like
   * a credential lookup and read again after any device change in this process.
   */
  #linked(child: DeviceIdentity, link: ChildLink): MaybePromise<boolean> {
    return andThen(this.current(link.gateway), async (gatewayCurrent) => {
      if (!gatewayCurrent) return false;
      const generation = this.#generation;
      const now = Date.now();
      if (this.#unchanged(child.context.tenantId, link.generation) && link.until > now) return true;
      const store = await this.#locate(child.context);
      const device = await store.reader.devices.getDevice(child.deviceId);
      const linked = device?.gatewayId === link.gateway.deviceId;
      if (linked) {
        link.generation = generation;
        link.until = now + this.#ttlMs;
      }
      return linked;
    });
  }

  /** The identity of a gateway's child, current while the child stays the gateway's. */
  #child(gateway: DeviceIdentity, child: { readonly id: string; readonly name: string }) {
    const context = issueTenantContext(gateway.context.tenant, {
      kind: 'device',
      id: `device:${child.id}`,
    });
    const identity = { context, deviceId: child.id, deviceName: child.name, isGateway: false };
    this.#children.set(identity, {
      gateway,
      generation: this.#generation,
      until: Date.now() + this.#ttlMs,
    });
    return identity;
  }

  async byAccessToken(token: string): Promise<DeviceIdentity | undefined> {
    if (token.length === 0 || token.length > 512) return undefined;
    const match = await this.#lookup(tokenLookup(token));
    return match?.credential.kind === 'access_token' ? this.#identity(match) : undefined;
  }

  async byMqttCredentials(
    clientId: string,
    username: string,
    password: string,
  ): Promise<DeviceIdentity | undefined> {
    if (username.length === 0 || username.length > 256) return undefined;
    const match = await this.#lookup(mqttLookup(username));
    const credential = match?.credential.kind === 'mqtt_basic' ? match.credential : undefined;
    // One verification at a real hash's cost whatever is wrong: the answer's timing must not
    // tell an unknown user name, or a client id that does not match, from a wrong password.
    const verified = await this.#verify(password, credential?.secretHash ?? this.#unmatchable);
    if (!verified || credential === undefined) return undefined;
    if (credential.clientId !== null && credential.clientId !== clientId) return undefined;
    return this.#identity(match);
  }

  async byCertificate(der: Uint8Array): Promise<DeviceIdentity | undefined> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return undefined;
    }
    const match = await this.#lookup(certificateLookup(fingerprintOf(cert)));
    if (match?.credential.kind !== 'x509') return undefined;
    // TLS accepted any certificate (tenant CAs change at run time): the chain is checked here,
    // and again by `current`, so an expired certificate, or one whose CA the tenant stopped
    // trusting, is refused, and a connection made with it is cut off.
    const pem = cert.toString();
    if (!(await this.#chained(match.tenant.id, pem))) return undefined;
    return this.#identity(match, pem);
  }

  async gatewayChild(gateway: DeviceIdentity, childName: string): Promise<DeviceIdentity> {
    const existing = await this.existingGatewayChild(gateway, childName);
    if (existing !== undefined) return existing;
    let child: DeviceRow | undefined;
    try {
      child = await this.#registry.createChild(gateway.context, childName, gateway.deviceId);
    } catch (error) {
      // Another connection created it first.
      const store = await this.#locate(gateway.context);
      child = await store.reader.devices.getDeviceByName(childName);
      if (child === undefined) throw error;
    }
    return this.#ownChild(gateway, child);
  }

  async existingGatewayChild(
    gateway: DeviceIdentity,
    childName: string,
  ): Promise<DeviceIdentity | undefined> {
    checkChildName(gateway, childName);
    const store = await this.#locate(gateway.context);
    const child = await store.reader.devices.getDeviceByName(childName);
    return child === undefined ? undefined : this.#ownChild(gateway, child);
  }

  newGatewayChild(gateway: DeviceIdentity, childName: string): NewChild {
    checkChildName(gateway, childName);
    const row = newChildRow(childName, gateway.deviceId);
    return { identity: this.#child(gateway, row), row };
  }

  #ownChild(gateway: DeviceIdentity, child: DeviceRow): DeviceIdentity {
    if (child.gatewayId !== gateway.deviceId)
      throw new PalisadeError('PALISADE_FORBIDDEN', 'that device is not a child of this gateway');
    return this.#child(gateway, child);
  }

  async findGatewayChild(
    gateway: DeviceIdentity,
    childName: string,
  ): Promise<DeviceIdentity | undefined> {
    if (!gateway.isGateway || childName.length === 0 || childName.length > DEVICE_NAME_MAX_LENGTH)
      return undefined;
    const store = await this.#locate(gateway.context);
    const child = await store.reader.devices.getDeviceByName(childName);
    return child?.gatewayId === gateway.deviceId ? this.#child(gateway, child) : undefined;
  }

  /**
   * A device registers itself with a single-use provisioning key: the key is consumed
   * atomically, then the device is created in the key's tenant with a new access token. A
   * registration that fails (a name taken, a suspended tenant) puts the key back, unused.
   */
  async provision(key: string, input: DeviceInput) {
    const match =
      key.length > 0 && key.length <= 512
        ? await this.#index.consumeProvisioningKey(provisioningLookup(key))
        : undefined;
    if (match === undefined) throw unknownProvisioningKey();
    try {
      if (match.tenant.status !== 'active') throw unknownProvisioningKey();
      const context = issueTenantContext(match.tenant, {
        kind: 'provisioning-key',
        id: `provisioning-key:${match.credential.id}`,
      });
      return await this.#registry.create(context, { ...input, isGateway: false });
    } catch (error) {
      await this.#index.insertCredential(match.credential);
      throw error;
    }
  }
}

/** Throws unless `gateway` is one and `childName` a name a child may have. */
function checkChildName(gateway: DeviceIdentity, childName: string): void {
  if (!gateway.isGateway)
    throw new PalisadeError('PALISADE_FORBIDDEN', 'only a gateway device may act for others');
  if (childName.length === 0 || childName.length > DEVICE_NAME_MAX_LENGTH)
    throw new PalisadeError(
      'PALISADE_INVALID_REQUEST',
      `a child device name must have 1 to ${DEVICE_NAME_MAX_LENGTH} characters`,
    );
}
