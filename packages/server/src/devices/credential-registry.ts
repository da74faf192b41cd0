import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type {
  ControlPlaneDeviceIndex,
  DeviceCredentialKind,
  DeviceCredentialRow,
} from '../store/index.ts';
import type { TenantContext } from '../tenancy/index.ts';
import { checkCaProof, registrationCode } from './device-ca-proof.ts';
import {
  certificateLookup,
  checkCa,
  checkDeviceCertificate,
  fingerprintOf,
  hashPassword,
  mqttLookup,
  newDeviceToken,
  newProvisioningKey,
  provisioningLookup,
  tokenLookup,
} from './device-credentials.ts';
import { credentialRow, type DeviceWrites } from './device-writes.ts';

/** A new credential as the tenant asks for it. */
export type CredentialInput =
  | { readonly type: 'access_token' }
  | {
      readonly type: 'mqtt_basic';
      readonly username: string;
      readonly password: string;
      readonly clientId?: string | undefined;
    }
  | { readonly type: 'x509'; readonly certificate: string };

/** A credential as shown: secrets only once, on creation (`token`). */
export interface CredentialView {
  readonly id: string;
  readonly type: DeviceCredentialKind;
  readonly createdAt: string;
  readonly username?: string;
  readonly clientId?: string | null;
  readonly fingerprint?: string;
  readonly token?: string;
}

function viewOf(row: DeviceCredentialRow, token?: string): CredentialView {
  const base = { id: row.id, type: row.kind, createdAt: row.createdAt };
  if (row.kind === 'mqtt_basic')
    return { ...base, username: row.lookup.slice('mqtt:'.length), clientId: row.clientId };
  if (row.kind === 'x509') return { ...base, fingerprint: row.lookup.slice('x509:'.length) };
  return token === undefined ? base : { ...base, token };
}

/**
 * What devices authenticate with, after their creation: their credentials (access tokens,
 * MQTT user names and passwords, certificates), the CA certificates the tenant trusts for
 * device certificates, and single-use provisioning keys. Each change is a ledger entry; the
 * secrets themselves are indexed platform-wide as lookups and hashes.
 */
export class CredentialRegistry {
  readonly #writes: DeviceWrites;
  readonly #index: ControlPlaneDeviceIndex;

  constructor(writes: DeviceWrites, index: ControlPlaneDeviceIndex) {
    this.#writes = writes;
    this.#index = index;
  }

  async credentials(context: TenantContext, id: string): Promise<CredentialView[]> {
    await this.#writes.device(context, id);
    return (await this.#index.listCredentials(context.tenantId, id)).map((row) => viewOf(row));
  }

  /** Adds a credential; an access token is shown only in this answer. */
  async addCredential(
    context: TenantContext,
    id: string,
    input: CredentialInput,
  ): Promise<CredentialView> {
    const prepared = await this.#prepare(context, input);
    const credential = credentialRow({ tenantId: context.tenantId, deviceId: id, ...prepared.row });
    return this.#writes.write(context, async (tx, record) => {
      await this.#writes.deviceIn(tx, id);
      const row = await this.#writes.register(credential);
      record({
        actor: context.actor.id,
        action: 'device.credential.create',
        resource: `devices/${id}/credentials/${row.id}`,
        state: { type: row.kind, lookup: row.lookup },
      });
      return viewOf(row, prepared.token);
    });
  }

  async #prepare(
    context: TenantContext,
    input: CredentialInput,
  ): Promise<{
    row: Pick<DeviceCredentialRow, 'kind' | 'lookup' | 'secretHash' | 'clientId'>;
    token?: string;
  }> {
    if (input.type === 'access_token') {
      const token = newDeviceToken();
      return {
        row: { kind: 'access_token', lookup: tokenLookup(token), secretHash: null, clientId: null },
        token,
      };
    }
    if (input.type === 'mqtt_basic') {
      return {
        row: {
          kind: 'mqtt_basic',
          lookup: mqttLookup(input.username),
          secretHash: await hashPassword(input.password),
          clientId: input.clientId ?? null,
        },
      };
    }
    const cas = await this.#index.listCas(context.tenantId);
    const cert = checkDeviceCertificate(
      input.certificate,
      cas.map((ca) => ca.pem),
      new Date(),
    );
    return {
      row: {
        kind: 'x509',
        lookup: certificateLookup(fingerprintOf(cert)),
        secretHash: null,
        clientId: null,
      },
    };
  }

  async deleteCredential(context: TenantContext, id: string, credentialId: string): Promise<void> {
    await this.#writes.device(context, id);
    if (
      !isUuid(credentialId) ||
      !(await this.#index.deleteCredential(context.tenantId, id, credentialId))
    )
      throw new PalisadeError('PALISADE_CREDENTIAL_NOT_FOUND', 'no such credential');
    this.#writes.credentialsChanged(context);
    await this.#writes.write(context, async (_tx, record) =>
      record({
        actor: context.actor.id,
        action: 'device.credential.delete',
        resource: `devices/${id}/credentials/${credentialId}`,
        state: null,
      }),
    );
  }

  /**
   * Trusts a CA certificate (PEM) for the tenant's device certificates, once
   * `verificationCertificate` proves the uploader holds the CA's key (see `checkCaProof`).
   */
  async addCa(context: TenantContext, pem: string, verificationCertificate: string | undefined) {
    const now = new Date();
    const cert = checkCa(pem, now);
    checkCaProof(verificationCertificate, cert, registrationCode(context.tenantId), now);
    const row = {
      id: uuid7(),
      tenantId: context.tenantId,
      pem: cert.toString(),
      fingerprint: fingerprintOf(cert),
      createdAt: new Date().toISOString(),
    };
    // One tenant per CA key: were a CA key shared, a tenant could claim another's device
    // certificates (certificates are public) before their owner registers them.
    if (!(await this.#index.insertCa(row)))
      throw new PalisadeError(
        'PALISADE_CREDENTIAL_TAKEN',
        'that CA certificate, or another tenant CA with its key, is already trusted',
      );
    await this.#writes.write(context, async (_tx, record) =>
      record({
        actor: context.actor.id,
        action: 'device.ca.create',
        resource: `device-cas/${row.id}`,
        state: { fingerprint: row.fingerprint },
      }),
    );
    return row;
  }

  async deleteCa(context: TenantContext, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.#index.deleteCa(context.tenantId, id)))
      throw new PalisadeError('PALISADE_CREDENTIAL_NOT_FOUND', 'no such CA certificate');
    await this.#writes.write(context, async (tx, record) => {
      // A generated CA's sealed private key goes with it.
      await tx.deviceCas.deleteCaKey(id);
      record({
        actor: context.actor.id,
        action: 'device.ca.delete',
        resource: `device-cas/${id}`,
        state: null,
      });
    });
  }

  /** A single-use provisioning key: one new device may register itself with it. */
  async issueProvisioningKey(
    context: TenantContext,
  ): Promise<{ id: string; key: string; createdAt: string }> {
    const key = newProvisioningKey();
    const row = await this.#writes.register(
      credentialRow({
        tenantId: context.tenantId,
        deviceId: null,
        kind: 'provisioning',
        lookup: provisioningLookup(key),
        secretHash: null,
        clientId: null,
      }),
    );
    await this.#writes.write(context, async (_tx, record) =>
      record({
        actor: context.actor.id,
        action: 'device.provisioning-key.create',
        resource: `provisioning-keys/${row.id}`,
        state: { lookup: row.lookup },
      }),
    );
    return { id: row.id, key, createdAt: row.createdAt };
  }
}
