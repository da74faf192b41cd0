import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CRYPTO_ERROR_CODES, CryptoError, isCryptoError } from '../src/index.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const errorsSection = readme.slice(
  readme.indexOf('## Errors'),
  readme.indexOf('## Security notes'),
);

describe('error codes', () => {
  it('README error table and CRYPTO_ERROR_CODES list the same codes, in order', () => {
    const documented = [...errorsSection.matchAll(/^\|\s*`(CRYPTO_[A-Z_]+)`\s*\|/gm)].map(
      (m) => m[1],
    );
    assert.deepEqual(documented, [...CRYPTO_ERROR_CODES]);
  });

  it('every code mentioned anywhere in src/ is in the list', () => {
    const srcDir = new URL('../src/', import.meta.url);
    const src = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    assert.ok(src.length > 10);
    const known = new Set<string>(CRYPTO_ERROR_CODES);
    for (const file of src) {
      const text = readFileSync(new URL(file, srcDir), 'utf8');
      for (const [code] of text.matchAll(/CRYPTO_[A-Z_]+(?=')/g))
        assert.ok(known.has(code), `${file}: ${code}`);
    }
  });

  it('CryptoError carries its code and name', () => {
    const error = new CryptoError('CRYPTO_BAD_KEY', 'x');
    assert.equal(error.name, 'CryptoError');
    assert.equal(error.code, 'CRYPTO_BAD_KEY');
    assert.ok(error instanceof Error);
    assert.ok(isCryptoError(error));
    assert.ok(isCryptoError(error, 'CRYPTO_BAD_KEY'));
    assert.ok(!isCryptoError(error, 'CRYPTO_BAD_HEADER'));
    assert.ok(!isCryptoError(new Error('x')));
  });
});
