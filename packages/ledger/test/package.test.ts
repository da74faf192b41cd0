import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

function sources(dir: URL): URL[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(new URL(`${d.name}/`, dir)) : [new URL(d.name, dir)],
  );
}

describe('package shape', () => {
  it('keeps the browser path free of Node built-ins and I/O', () => {
    const src = new URL('../src/', import.meta.url);
    for (const file of sources(src)) {
      if (file.pathname.includes('/src/node/')) continue;
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /from '(node:|\.\.?\/.*node\/)/, file.pathname);
      assert.doesNotMatch(text, /\b(Buffer|process)\.|\b(fetch|require)\(/, file.pathname);
    }
  });

  it('names every export explicitly in index.ts', () => {
    for (const index of ['../src/index.ts', '../src/node/index.ts']) {
      assert.doesNotMatch(readFileSync(new URL(index, import.meta.url), 'utf8'), /export \*/);
    }
  });

  const dist = new URL('../dist/index.js', import.meta.url);
  it('works from the built package', {
    skip: !existsSync(dist) && 'run npx tsc -b packages/ledger first',
  }, async () => {
    const ledger = (await import(dist.href)) as typeof import('../src/index.ts');
    const node = (await import(
      new URL('../dist/node/index.js', import.meta.url).href
    )) as typeof import('../src/node/index.ts');
    const leaves = [1, 2, 3, 4, 5].map((i) => node.nodeHasher.leafHash(new Uint8Array([i])));
    const store = new ledger.MemoryHashStore();
    const { root, nodes } = await ledger.appendLeaves(node.nodeHasher, store, 0, leaves);
    store.writeNodes(nodes);
    const proof = await ledger.inclusionProof(node.nodeHasher, store, 3, 5);
    ledger.verifyInclusion(node.nodeHasher, leaves[3]!, 3, 5, proof, root);
    assert.throws(
      () => ledger.verifyInclusion(node.nodeHasher, leaves[2]!, 3, 5, proof, root),
      ledger.LedgerError,
    );
  });
});
