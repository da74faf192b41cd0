/** `@palisade/ledger/node`: node:crypto providers, signers and key generation. */
export { nodeHasher, nodeSha256, nodeVerifyProvider } from './providers.ts';
export {
  ed25519CosignatureSigner,
  ed25519PrivateKeyFromSeed,
  ed25519Signer,
  type GeneratedKey,
  generateEd25519Key,
  generateMlDsa44Key,
  mldsa44PrivateKeyFromSeed,
  mldsa44Signer,
} from './signers.ts';
