/**
 * The edge node checks MQTT basic credentials as the platform does: one scrypt verification
 * per attempt, whatever is wrong, so the timing of a refusal does not tell an unknown user
 * name, or a client id that does not match, from a wrong password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyScrypt } from '../src/credentials/device-auth.ts';
import { authenticateDevice, CredentialCache } from '../src/credentials/index.ts';

/** `scrypt$16384$8$1$…` of "right password" under a fixed salt, as the platform stores it. */
async function platformHash(password: string): Promise<string> {
  const { scryptSync } = await import('node:crypto');
  const salt = Buffer.alloc(16, 7);
  const digest = scryptSync(password, salt, 32, { N: 16_384, r: 8, p: 1, maxmem: 64 << 20 });
  return ['scrypt', 16_384, 8, 1, salt.toString('base64url'), digest.toString('base64url')].join(
    '$',
  );
}

describe('edge MQTT basic authentication', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-edge-auth-'));
  const cache = new CredentialCache(join(dir, 'credentials.db'));
  after(() => {
    cache.close();
    rmSync(dir, { recursive: true, force: true });
  });
  cache.replace(
    [
      {
        id: 'd1',
        name: 'meter',
        type: 'default',
        credentials: [
          {
            id: 'c1',
            type: 'mqtt_basic',
            username: 'bee',
            clientId: 'bee-1',
            passwordHash: await platformHash('right password'),
          },
        ],
      },
    ],
    new Date(),
  );
  /** The stored hashes each attempt verified against, at which scrypt cost. */
  const attempt = async (clientId: string, username: string, password: string) => {
    const costs: string[] = [];
    const grant = await authenticateDevice(
      cache,
      clientId,
      username,
      Buffer.from(password),
      (given, stored) => {
        costs.push(stored.split('$').slice(0, 4).join('$'));
        return verifyScrypt(given, stored);
      },
    );
    return { granted: grant?.device.deviceId, costs };
  };

  it('grants the right password from the bound client id', async () => {
    assert.deepEqual(await attempt('bee-1', 'bee', 'right password'), {
      granted: 'd1',
      costs: ['scrypt$16384$8$1'],
    });
  });

  it('verifies once at the same cost for a wrong password, an unknown name and another client id', async () => {
    for (const [clientId, username, password] of [
      ['bee-1', 'bee', 'wrong password'],
      ['bee-1', 'nobody', 'right password'],
      ['other', 'bee', 'right password'],
    ] as const) {
      assert.deepEqual(
        await attempt(clientId, username, password),
        { granted: undefined, costs: ['scrypt$16384$8$1'] },
        `${clientId}/${username}`,
      );
    }
  });
});
