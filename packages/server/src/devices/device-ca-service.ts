import { X509Certificate } from 'node:crypto';
import type { GroupCommitter } from '../commit/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { isUuid, uuid7 } from '../ids/index.ts';
import type { TenantStoreLocator } from '../records/index.ts';
import type { ControlPlaneDeviceIndex, TenantCaRow } from '../store/index.ts';
import type { Tenant, TenantContext } from '../tenancy/index.ts';
import type { CredentialRegistry, CredentialView } from './credential-registry.ts';
import {
  csrPublicKey,
  generateCa,
  generateDeviceKey,
  issueDeviceCertificate,
} from './device-ca.ts';
import { checkCa, fingerprintOf } from './device-credentials.ts';
import type { DeviceRegistry } from './device-registry.ts';

/** Seals secrets under a tenant's key hierarchy (the platform's `TenantSecretSeal`). */
export interface SecretSealer {
  seal(
    tenant: Tenant,
    place: { kind: string; id: string },
    secret: Uint8Array,
  ): Promise<{ wrappedKey: Uint8Array; sealed: Uint8Array }>;
  open(
    tenant: Tenant,
    place: { kind: string; id: string },
    secret: { wrappedKey: Uint8Array; sealed: Uint8Array },
  ): Promise<Uint8Array>;
}

/** A trusted CA as shown: `generated` when Palisade holds its private key. */
export interface CaView extends TenantCaRow {
  readonly generated: boolean;
}

/** A device certificate issued by a generated CA; `privateKey` only when it was made here. */
export interface IssuedCertificate extends CredentialView {
  readonly certificate: string;
  readonly caCertificate: string;
  readonly privateKey?: string;
}

/** What to certify: the device's CSR, or a key pair made here and returned once. */
export type IssueInput =
  | { readonly csr: string; readonly caId?: string | undefined }
  | { readonly generate: true; readonly caId?: string | undefined };

export interface DeviceCaServiceOptions {
  readonly locate: TenantStoreLocator;
  readonly committer: GroupCommitter;
  readonly index: ControlPlaneDeviceIndex;
  readonly registry: DeviceRegistry;
  readonly credentials: CredentialRegistry;
  readonly secrets: SecretSealer;
  /** Validity of a generated CA certificate (`deviceCaValidityDays`). */
  readonly caValidityDays: number;
  /** Validity of an issued device certificate (`deviceCertValidityDays`). */
  readonly certValidityDays: number;
}

const place = (caId: string) => ({ kind: 'device-ca', id: caId });

function noCa(): PalisadeError {
  return new PalisadeError(
    'PALISADE_DEVICE_CA_NOT_FOUND',
    'this tenant has no Palisade-generated device CA by that id: generate one with POST /v1/device-cas {"generate": true}',
  );
}

function caExpired(notAfter: Date): PalisadeError {
  return new PalisadeError(
    'PALISADE_DEVICE_CA_EXPIRED',
    `the device CA is outside its validity (notAfter ${notAfter.toISOString()}): generate a new one with POST /v1/device-cas {"generate": true}`,
  );
}

/** The key to certify: the CSR's (checked), or a new one whose private half goes back once. */
async function subjectKey(input: IssueInput) {
  if ('csr' in input) return { publicKey: await csrPublicKey(input.csr), privateKey: undefined };
  return generateDeviceKey();
}

/**
 * Palisade-generated device CAs: the certificate joins the tenant's trusted CAs in the control
 * plane's index; the private key is sealed under the tenant's key hierarchy and stored in the
 * tenant's own store, in the transaction of its ledger entry. Signing opens it for the one
 * signature and zeroes it. Issued certificates become x509 credentials through the credential registry,
 * so they are checked and ledgered like uploaded ones.
 */
export class DeviceCaService {
  readonly #o: DeviceCaServiceOptions;

  constructor(options: DeviceCaServiceOptions) {
    this.#o = options;
  }

  async generate(context: TenantContext, commonName: string | undefined): Promise<CaView> {
    const name = commonName ?? `Palisade device CA ${context.tenant.slug}`;
    const ca = await generateCa(name, this.#o.caValidityDays);
    const id = uuid7();
    let sealed: { wrappedKey: Uint8Array; sealed: Uint8Array };
    try {
      sealed = await this.#o.secrets.seal(context.tenant, place(id), ca.privateKey);
    } finally {
      ca.privateKey.fill(0);
    }
    const cert = checkCa(ca.certificate, new Date());
    const row: TenantCaRow = {
      id,
      tenantId: context.tenantId,
      pem: cert.toString(),
      fingerprint: fingerprintOf(cert),
      createdAt: new Date().toISOString(),
    };
    if (!(await this.#o.index.insertCa(row)))
      throw new PalisadeError(
        'PALISADE_CREDENTIAL_TAKEN',
        'that CA certificate is already trusted',
      );
    try {
      await this.#o.committer.submit(await this.#o.locate(context), async (tx, record) => {
        await tx.deviceCas.insertCaKey({
          caId: id,
          wrappedKey: sealed.wrappedKey,
          sealedKey: sealed.sealed,
          createdAt: row.createdAt,
        });
        record({
          actor: context.actor.id,
          action: 'device.ca.create',
          resource: `device-cas/${id}`,
          state: { fingerprint: row.fingerprint, generated: true },
        });
      });
    } catch (error) {
      await this.#o.index.deleteCa(context.tenantId, id);
      throw error;
    }
    return { ...row, generated: true };
  }

  async list(context: TenantContext): Promise<CaView[]> {
    const generated = new Set(
      await (await this.#o.locate(context)).reader.deviceCas.listCaKeyIds(),
    );
    return (await this.#o.index.listCas(context.tenantId)).map((row) => ({
      ...row,
      generated: generated.has(row.id),
    }));
  }

  /** Signs a certificate for the device with the given (or newest) generated CA. */
  async issue(
    context: TenantContext,
    deviceId: string,
    input: IssueInput,
  ): Promise<IssuedCertificate> {
    await this.#o.registry.get(context, deviceId);
    const ca = await this.#caOf(context, input.caId);
    const caCert = new X509Certificate(ca.pem);
    const now = new Date();
    if (now < caCert.validFromDate || now >= caCert.validToDate)
      throw caExpired(caCert.validToDate);
    const subject = await subjectKey(input);
    const privateKey = await this.#o.secrets.open(context.tenant, place(ca.id), ca.key);
    let certificate: string;
    try {
      certificate = await issueDeviceCertificate({
        ca: { certificate: ca.pem, privateKey },
        publicKey: subject.publicKey,
        deviceId,
        validityDays: this.#o.certValidityDays,
      });
    } finally {
      privateKey.fill(0);
    }
    const view = await this.#o.credentials.addCredential(context, deviceId, {
      type: 'x509',
      certificate,
    });
    return {
      ...view,
      certificate,
      caCertificate: ca.pem,
      ...(subject.privateKey === undefined ? {} : { privateKey: subject.privateKey }),
    };
  }

  async #caOf(context: TenantContext, caId: string | undefined) {
    const reader = (await this.#o.locate(context)).reader.deviceCas;
    if (caId !== undefined && !isUuid(caId)) throw noCa();
    const id = caId ?? (await reader.listCaKeyIds())[0];
    const key = id === undefined ? undefined : await reader.getCaKey(id);
    const row = (await this.#o.index.listCas(context.tenantId)).find((ca) => ca.id === id);
    if (key === undefined || row === undefined) throw noCa();
    return { id: row.id, pem: row.pem, key: { wrappedKey: key.wrappedKey, sealed: key.sealedKey } };
  }
}
