export { randomBytesFromPool } from './random-pool.ts';
export { hashSecretToken, newSecretToken } from './secret-token.ts';
export { isUuid, uuid7 } from './uuid7.ts';
