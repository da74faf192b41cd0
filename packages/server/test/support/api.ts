import type { FastifyInstance, InjectOptions } from 'fastify';
import { type Platform, startPlatform } from '../../src/index.ts';
import {
  type BackendFixture,
  type BackendName,
  type BackendOptions,
  openBackend,
} from './backends.ts';

export const ADMIN_TOKEN = `pa_test_${'x'.repeat(40)}`;

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: response JSON is asserted field by field in tests
  readonly body: any;
}

/** A platform on one backend, driven through Fastify's inject (the real routing and hooks). */
export class TestApi {
  readonly platform: Platform;
  /** The stores under test (raw access for dumps and tampering). */
  readonly fixture: BackendFixture;
  readonly #cleanup: () => Promise<void>;

  private constructor(platform: Platform, fixture: BackendFixture) {
    this.platform = platform;
    this.fixture = fixture;
    this.#cleanup = fixture.cleanup;
  }

  static async start(
    backend: BackendName,
    overrides: Record<string, string | string[]> = {},
    options: BackendOptions = {},
  ): Promise<TestApi> {
    const fixture = await openBackend(backend, { adminToken: ADMIN_TOKEN, ...overrides }, options);
    const platform = await startPlatform(fixture.settings, { listen: false });
    return new TestApi(platform, fixture);
  }

  /**
   * A platform on stores another platform already used (a restart); `close` removes them.
   * The fixture must have been opened with `adminToken: ADMIN_TOKEN`.
   */
  static async restart(fixture: BackendFixture): Promise<TestApi> {
    const platform = await startPlatform(fixture.settings, { listen: false });
    return new TestApi(platform, fixture);
  }

  get http(): FastifyInstance {
    return this.platform.http;
  }

  async call(
    method: InjectOptions['method'],
    url: string,
    token: string | undefined,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const response = await this.http.inject({
      method,
      url,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = response.body;
    const type = String(response.headers['content-type'] ?? '');
    return {
      status: response.statusCode,
      headers: response.headers,
      body: type.includes('json') && text !== '' ? JSON.parse(text) : text,
    };
  }

  /** Creates a tenant with one API key; returns its id and key secret. */
  async tenant(slug: string): Promise<{ id: string; key: string; keyId: string }> {
    const created = await this.call('POST', '/v1/platform/tenants', ADMIN_TOKEN, {
      slug,
      name: `Tenant ${slug}`,
    });
    if (created.status !== 201)
      throw new Error(`tenant create: ${created.status} ${JSON.stringify(created.body)}`);
    const key = await this.call(
      'POST',
      `/v1/platform/tenants/${created.body.id}/api-keys`,
      ADMIN_TOKEN,
      { name: 'test' },
    );
    if (key.status !== 201) throw new Error(`api key: ${key.status} ${JSON.stringify(key.body)}`);
    return { id: created.body.id, key: key.body.secret, keyId: key.body.id };
  }

  async close(): Promise<void> {
    await this.platform.close();
    await this.#cleanup();
  }
}

export const PEOPLE_SCHEMA = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    age: { type: 'integer', minimum: 0 },
    active: { type: 'boolean' },
    email: { type: 'string', format: 'email' },
    tags: { type: 'array', items: { type: 'string' } },
  },
} as const;
