import assert from 'node:assert/strict';
import { type Secret, TOTP } from 'otpauth';
import type { PalisadeError } from '../../src/errors/index.ts';

/** The code an authenticator app shows for `secret`, `offset` 30-second steps from now. */
export function totpAt(secret: Secret, offset = 0): string {
  return new TOTP({ secret }).generate({ timestamp: Date.now() + offset * 30_000 });
}

/** The error `promise` rejects with; fails the test when it resolves. */
export async function refusal(promise: Promise<unknown>): Promise<PalisadeError> {
  try {
    await promise;
  } catch (error) {
    return error as PalisadeError;
  }
  assert.fail('expected a refusal');
}
