import assert from 'node:assert/strict';
import { type Secret, TOTP } from 'otpauth';
import type { PalisadeError } from '../../src/errors/index.ts';
import { steadyWindow } from './windows.ts';

/** The code an authenticator app shows for `secret`, `offset` 30-second steps from now. */
export function totpAt(secret: Secret, offset = 0): string {
  return new TOTP({ secret }).generate({ timestamp: Date.now() + offset * 30_000 });
}

/**
 * Waits out a TOTP step with under `seconds` left: a test that computes codes relative to now
 * and then presents them stays inside one step, so "the previous step" still means the same
 * step when the server checks it.
 */
export function steadyTotpStep(seconds = 10): Promise<void> {
  return steadyWindow(30_000, seconds * 1000);
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
