import { randomBytes } from 'node:crypto';
import type { PermissionSet, RoleGrants } from '../authz/index.ts';
import { PalisadeError } from '../errors/index.ts';
import { hashSecretToken, isUuid, uuid7 } from '../ids/index.ts';
import { readableRows } from '../records/index.ts';
import type { ControlPlaneIdentityStore, OAuthClientRow } from '../store/index.ts';
import type { Tenant, TenantContext } from '../tenancy/index.ts';
import type { SigningAlgorithm } from './issuer-keys.ts';
import type { IssuerUrls } from './issuer-urls.ts';
import type { RevocationList } from './revocation-list.ts';
import type { TenantAudit } from './tenant-audit.ts';
import { acceptedUntil } from './token-skew.ts';

/** A new client as the tenant asks for it. */
export interface NewClient {
  readonly name: string;
  readonly kind: 'service' | 'user';
  /** Service clients: the roles their tokens carry (at least one). */
  readonly roles?: readonly string[] | undefined;
  /** User clients: where the authorization code goes (none: device flow only). */
  readonly redirectUris?: readonly string[] | undefined;
  /** User clients: true for an app that cannot keep a secret (PKCE only); the default. */
  readonly public?: boolean | undefined;
  readonly tokenAlgorithm?: SigningAlgorithm | undefined;
}

/** A client as the API shows it; never its secret. */
export interface ClientView {
  readonly id: string;
  readonly name: string;
  readonly kind: 'service' | 'user';
  readonly public: boolean;
  readonly roles: readonly string[];
  readonly redirectUris: readonly string[];
  readonly tokenAlgorithm: string;
  readonly issuer: string;
  readonly createdAt: string;
}

function notFound(): PalisadeError {
  return new PalisadeError(
    'PALISADE_CLIENT_NOT_FOUND',
    'the tenant has no such OAuth client; GET /v1/clients lists them',
  );
}

/**
 * A tenant's OAuth clients. A confidential client's secret is shown once, at creation, and
 * stored as its SHA-256. Deleting a client removes its grants and refresh tokens and revokes
 * its access tokens. Every change is an entry in the tenant's ledger.
 */
export class ClientService {
  readonly #store: ControlPlaneIdentityStore;
  readonly #audit: TenantAudit;
  readonly #roles: RoleGrants;
  readonly #urls: IssuerUrls;
  readonly #revocations: RevocationList;
  readonly #accessTokenMs: number;

  constructor(options: {
    store: ControlPlaneIdentityStore;
    audit: TenantAudit;
    roles: RoleGrants;
    urls: IssuerUrls;
    revocations: RevocationList;
    accessTokenMs: number;
  }) {
    this.#store = options.store;
    this.#audit = options.audit;
    this.#roles = options.roles;
    this.#urls = options.urls;
    this.#revocations = options.revocations;
    this.#accessTokenMs = options.accessTokenMs;
  }

  /** Registers a client whose roles the caller (holding `held`) may give. */
  async create(
    context: TenantContext,
    input: NewClient,
    held: PermissionSet,
  ): Promise<{ client: ClientView; secret: string | undefined }> {
    const roles = input.kind === 'service' ? [...new Set(input.roles ?? [])] : [];
    const redirectUris = input.kind === 'user' ? [...new Set(input.redirectUris ?? [])] : [];
    if (input.kind === 'service' && roles.length === 0)
      throw invalid('/body/roles', 'a service client needs at least one role');
    if (input.kind === 'service' && input.redirectUris !== undefined)
      throw invalid(
        '/body/redirectUris',
        'service clients use client credentials: no redirect URIs',
      );
    if (input.kind === 'user' && input.roles !== undefined)
      throw invalid('/body/roles', "a user client's tokens carry the signed-in user's roles");
    redirectUris.forEach(checkRedirectUri);
    await this.#roles.checkGrantable(context.tenant, held, roles);
    const confidential = input.kind === 'service' || input.public === false;
    const secret = confidential ? `cs_${randomBytes(32).toString('base64url')}` : undefined;
    const row: OAuthClientRow = {
      tenantId: context.tenantId,
      id: uuid7(),
      name: input.name,
      kind: input.kind,
      secretHash: secret === undefined ? null : hashSecretToken(secret),
      redirectUris,
      roles,
      tokenAlgorithm: input.tokenAlgorithm ?? 'EdDSA',
      createdAt: new Date().toISOString(),
    };
    const client = this.#view(context.tenant, row);
    const { issuer: _issuer, ...state } = client;
    await this.#audit.change(
      context.tenant,
      { actor: context.actor.id, action: 'client.create', resource: `clients/${row.id}`, state },
      () => this.#store.insertClient(row),
    );
    return { client, secret };
  }

  /**
   * The first `limit` clients after `after` that the caller may read (`readable`, by id), as
   * if no other existed, and the cursor of the next page when another follows (the last id).
   */
  async list(
    context: TenantContext,
    after: string | undefined,
    limit: number,
    readable: (id: string) => boolean,
  ): Promise<{ items: ClientView[]; nextCursor: string | null }> {
    if (after !== undefined && !isUuid(after))
      throw new PalisadeError(
        'PALISADE_INVALID_CURSOR',
        'the cursor is not one this server issued',
      );
    const { items, more } = await readableRows(
      (from, count) => this.#store.listClients(context.tenantId, from, count),
      (row) => readable(row.id),
      after,
      limit,
    );
    return {
      items: items.map((row) => this.#view(context.tenant, row)),
      nextCursor: more ? items.at(-1)!.id : null,
    };
  }

  async get(context: TenantContext, id: string): Promise<ClientView> {
    const row = isUuid(id) ? await this.#store.getClient(context.tenantId, id) : undefined;
    if (row === undefined) throw notFound();
    return this.#view(context.tenant, row);
  }

  /**
   * Deletes a client; a service client only when the caller's permissions (`held`) cover its
   * roles, as for users: no one removes a credential stronger than their own.
   */
  async delete(context: TenantContext, id: string, held: PermissionSet): Promise<void> {
    const row = isUuid(id) ? await this.#store.getClient(context.tenantId, id) : undefined;
    if (row === undefined) throw notFound();
    await this.#roles.checkCovers(context.tenant, held, row.roles, `deleting the client ${id}`);
    const revocation = {
      kind: 'client' as const,
      value: id,
      expiresAt: acceptedUntil(Date.now() + this.#accessTokenMs),
    };
    await this.#audit.change(
      context.tenant,
      { actor: context.actor.id, action: 'client.delete', resource: `clients/${id}`, state: null },
      async () => {
        if (!(await this.#store.deleteClient(context.tenantId, id, revocation))) throw notFound();
      },
    );
    this.#revocations.applied(context.tenantId, revocation);
  }

  #view(tenant: Tenant, row: OAuthClientRow): ClientView {
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      public: row.secretHash === null,
      roles: row.roles,
      redirectUris: row.redirectUris,
      tokenAlgorithm: row.tokenAlgorithm,
      issuer: this.#urls.issuer(tenant.slug),
      createdAt: row.createdAt,
    };
  }
}

function invalid(path: string, message: string): PalisadeError {
  return new PalisadeError('PALISADE_INVALID_REQUEST', `${path} ${message}`, [{ path, message }]);
}

/** https anywhere; plain http only back to the same machine (RFC 8252 native apps). */
function checkRedirectUri(uri: string, index: number): void {
  const url = URL.parse(uri);
  const loopback =
    url?.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url === null || url.hash !== '' || (url.protocol !== 'https:' && !loopback)) {
    throw invalid(
      `/body/redirectUris/${index}`,
      'must be an https URL (or http to 127.0.0.1, [::1] or localhost) without a fragment',
    );
  }
}
