import assert from 'node:assert/strict';
import { ERROR_CODES } from '../../src/errors/index.ts';
import { ADMIN_TOKEN, type Reply } from './api.ts';

/** What the GraphQL tests call: TestApi (inject) or a listening OidcPlatform (fetch). */
export interface Caller {
  call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<Pick<Reply, 'status' | 'body'>>;
}

/** POSTs one GraphQL request to /v1/graphql. */
export function gql(
  api: Caller,
  key: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<Pick<Reply, 'status' | 'body'>> {
  return api.call('POST', '/v1/graphql', key, {
    query,
    ...(variables === undefined ? {} : { variables }),
    ...extra,
  });
}

/** The codes of a GraphQL response's errors, in order; each must be a documented code. */
export function codesOf(reply: Pick<Reply, 'body'>): string[] {
  const codes: string[] = (reply.body.errors ?? []).map(
    (e: { extensions: { code: string } }) => e.extensions.code,
  );
  for (const code of codes) assert.ok(code in ERROR_CODES, `${code} is not in ERROR_CODES`);
  return codes;
}

/** An API key of the tenant acting with the given roles. */
export async function keyWith(api: Caller, tenantId: string, roles: string[]): Promise<string> {
  const issued = await api.call('POST', `/v1/platform/tenants/${tenantId}/api-keys`, ADMIN_TOKEN, {
    roles,
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  return issued.body.secret;
}

/** A user and a service client of the tenant, made over REST. */
export async function identities(
  api: Caller,
  key: string,
): Promise<{ userId: string; clientId: string }> {
  const user = await api.call('POST', '/v1/users', key, { email: 'ada@example.org', name: 'Ada' });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  const client = await api.call('POST', '/v1/clients', key, {
    name: 'Ada bot',
    kind: 'service',
    roles: ['viewer'],
  });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  return { userId: user.body.user.id, clientId: client.body.id };
}
