import { type Adapter, type AdapterPayload, errors as oidcErrors } from 'oidc-provider';
import type { ControlPlaneIdentityStore, OAuthClientRow } from '../store/index.ts';
import type { RevocationList } from './revocation-list.ts';
import { acceptedUntil } from './token-skew.ts';

const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

/** The metadata `oidc-provider` sees for a stored client (the secret stays a hash). */
export function clientMetadata(row: OAuthClientRow): AdapterPayload {
  const grants =
    row.kind === 'service'
      ? ['client_credentials']
      : [
          ...(row.redirectUris.length > 0 ? ['authorization_code'] : []),
          'refresh_token',
          DEVICE_CODE,
        ];
  return {
    client_id: row.id,
    client_name: row.name,
    ...(row.secretHash === null ? {} : { client_secret: row.secretHash }),
    grant_types: grants,
    response_types: grants.includes('authorization_code') ? ['code'] : [],
    redirect_uris: [...row.redirectUris],
    token_endpoint_auth_method: row.secretHash === null ? 'none' : 'client_secret_basic',
    palisade_roles: [...row.roles],
    palisade_token_alg: row.tokenAlgorithm,
  } as AdapterPayload;
}

/**
 * `oidc-provider`'s storage for one tenant and one model, over the control plane. Writes
 * return after the store committed them. Revoking a grant deletes its artifacts and records
 * the grant as revoked, so the gateway refuses the grant's JWT access tokens too.
 */
export class ArtifactAdapter implements Adapter {
  readonly #model: string;
  readonly #tenantId: string;
  readonly #store: ControlPlaneIdentityStore;
  readonly #revocations: RevocationList;
  /** How long a revocation must be remembered: the longest an access token lives. */
  readonly #revocationTtlMs: number;

  constructor(
    model: string,
    tenantId: string,
    store: ControlPlaneIdentityStore,
    revocations: RevocationList,
    revocationTtlMs: number,
  ) {
    this.#model = model;
    this.#tenantId = tenantId;
    this.#store = store;
    this.#revocations = revocations;
    this.#revocationTtlMs = revocationTtlMs;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    await this.#store.upsertArtifact(this.#tenantId, {
      model: this.#model,
      id,
      payload: payload as Record<string, unknown>,
      // A grant is its own family: revoking it deletes it with its codes and tokens.
      grantId: this.#model === 'Grant' ? id : (payload.grantId ?? null),
      userCode: payload.userCode ?? null,
      uid: payload.uid ?? null,
      clientId: payload.clientId ?? null,
      expiresAt: expiresIn > 0 ? Date.now() + expiresIn * 1000 : null,
    });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.#model === 'Client') {
      const row = await this.#store.getClient(this.#tenantId, id);
      return row === undefined ? undefined : clientMetadata(row);
    }
    return (await this.#store.findArtifact(this.#tenantId, this.#model, 'id', id))?.payload;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return (await this.#store.findArtifact(this.#tenantId, this.#model, 'userCode', userCode))
      ?.payload;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return (await this.#store.findArtifact(this.#tenantId, this.#model, 'uid', uid))?.payload;
  }

  /**
   * `oidc-provider` checks that a code or refresh token is unused before consuming it, so
   * requests sent at once would all pass its check: the store consumes it for one of them,
   * and the others are reuse, handled as the provider handles it (the grant is revoked).
   */
  async consume(id: string): Promise<void> {
    const at = Math.floor(Date.now() / 1000);
    if (await this.#store.consumeArtifact(this.#tenantId, this.#model, id, at)) return;
    const artifact = await this.#store.findArtifact(this.#tenantId, this.#model, 'id', id);
    const grantId = artifact?.payload.grantId;
    if (typeof grantId === 'string') await this.revokeByGrantId(grantId);
    if (this.#model === 'PushedAuthorizationRequest')
      throw new oidcErrors.InvalidRequestUri(
        'request_uri is invalid, expired, or was already used',
      );
    throw new oidcErrors.InvalidGrant(`${this.#model} already used`);
  }

  async destroy(id: string): Promise<void> {
    if (this.#model === 'Grant') return this.revokeByGrantId(id);
    await this.#store.destroyArtifact(this.#tenantId, this.#model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const revocation = {
      kind: 'grant' as const,
      value: grantId,
      expiresAt: acceptedUntil(Date.now() + this.#revocationTtlMs),
    };
    await this.#store.revokeGrant(this.#tenantId, grantId, revocation);
    this.#revocations.applied(this.#tenantId, revocation);
  }
}
