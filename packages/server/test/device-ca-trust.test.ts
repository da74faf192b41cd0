/**
 * What an uploaded tenant CA may vouch for, on each backend. A CA certificate is public, so
 * another tenant can copy its subject and public key into a certificate of its own: what
 * makes a CA a tenant's is its key, and a key trusted by one tenant is refused to any other.
 * A CA vouches only while it is itself valid. And since a CA certificate is public, an upload
 * must prove its key, for the uploading tenant, with a verification certificate.
 */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { webcrypto, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509CertificateGenerator,
} from '@peculiar/x509';
import { checkCa, checkDeviceCertificate } from '../src/devices/device-credentials.ts';
import { TestApi } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { registrationCodeOf, verificationCertificate } from './support/device-ca-proof.ts';

const SIGNING = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const provider = webcrypto as unknown as NonNullable<
  Parameters<typeof X509CertificateGenerator.create>[1]
>;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

type Keys = webcrypto.CryptoKeyPair;

const newKeys = (): Promise<Keys> =>
  webcrypto.subtle.generateKey(SIGNING, true, ['sign', 'verify']) as Promise<Keys>;

function caExtensions() {
  return [
    new BasicConstraintsExtension(true, 0, true),
    new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
  ];
}

/** A certificate of `subject` for `publicKey`, signed by `issuer`. */
async function certificate(options: {
  subject: string;
  issuer: string;
  publicKey: webcrypto.CryptoKey;
  signingKey: webcrypto.CryptoKey;
  ca: boolean;
  notBefore?: Date;
  notAfter?: Date;
  usages?: string[];
  signingAlgorithm?: typeof SIGNING | typeof RSA;
}): Promise<string> {
  const now = Date.now();
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: '01',
      subject: options.subject,
      issuer: options.issuer,
      publicKey: options.publicKey,
      signingKey: options.signingKey,
      signingAlgorithm: options.signingAlgorithm ?? SIGNING,
      notBefore: options.notBefore ?? new Date(now - DAY_MS),
      notAfter: options.notAfter ?? new Date(now + 30 * DAY_MS),
      extensions: options.ca
        ? caExtensions()
        : [
            new BasicConstraintsExtension(false, undefined, true),
            ...(options.usages === undefined
              ? []
              : [new ExtendedKeyUsageExtension(options.usages, false)]),
          ],
    },
    provider,
  );
  return cert.toString('pem');
}

function selfSignedCa(name: string, keys: Keys): Promise<string> {
  return certificate({
    subject: name,
    issuer: name,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    ca: true,
  });
}

for (const backend of backendNames()) {
  describe(`uploaded device CAs on ${backend}`, () => {
    let api: TestApi;

    before(async () => {
      api = await TestApi.start(backend);
    });
    after(() => api.close());

    /** Uploads `pem` for the tenant with a proof signed by `signingKey` for `code`. */
    async function upload(key: string, pem: string, signingKey: webcrypto.CryptoKey, code: string) {
      const proof = await verificationCertificate({ caPem: pem, caKey: signingKey, code });
      return api.call('POST', '/v1/device-cas', key, {
        certificate: pem,
        verificationCertificate: proof,
      });
    }

    it("tenant B cannot upload A's CA first without A's key, and A's devices stay A's", async () => {
      const a = await api.tenant('ca-first-a');
      const b = await api.tenant('ca-first-b');
      const aKeys = await newKeys();
      const aCa = await selfSignedCa('CN=first CA', aKeys);
      const aDevice = await certificate({
        subject: 'CN=valve-1',
        issuer: 'CN=first CA',
        publicKey: (await newKeys()).publicKey,
        signingKey: aKeys.privateKey,
        ca: false,
      });
      // B saw A's public CA certificate and uploads it before A does.
      const bare = await api.call('POST', '/v1/device-cas', b.key, { certificate: aCa });
      assert.equal(bare.body.code, 'PALISADE_DEVICE_CA_UNVERIFIED', JSON.stringify(bare.body));
      const bCode = await registrationCodeOf(api, b.key);
      const forged = await upload(b.key, aCa, (await newKeys()).privateKey, bCode);
      assert.equal(forged.body.code, 'PALISADE_DEVICE_CA_UNVERIFIED', JSON.stringify(forged.body));
      const decoy = await api.call('POST', '/v1/devices', b.key, { name: 'decoy' });
      const claim = await api.call('POST', `/v1/devices/${decoy.body.id}/credentials`, b.key, {
        type: 'x509',
        certificate: aDevice,
      });
      assert.equal(claim.body.code, 'PALISADE_CERTIFICATE_INVALID', JSON.stringify(claim.body));

      const own = await upload(a.key, aCa, aKeys.privateKey, await registrationCodeOf(api, a.key));
      assert.equal(own.status, 201, JSON.stringify(own.body));
      const valve = await api.call('POST', '/v1/devices', a.key, { name: 'valve-1' });
      const registered = await api.call('POST', `/v1/devices/${valve.body.id}/credentials`, a.key, {
        type: 'x509',
        certificate: aDevice,
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
    });

    it("a proof made for another tenant's registration code, or by another key, is refused", async () => {
      const a = await api.tenant('ca-proof-a');
      const b = await api.tenant('ca-proof-b');
      const keys = await newKeys();
      const ca = await selfSignedCa('CN=proof CA', keys);
      const aCode = await registrationCodeOf(api, a.key);
      const bCode = await registrationCodeOf(api, b.key);
      assert.match(aCode, /^[0-9a-f]{64}$/);
      assert.notEqual(aCode, bCode);
      assert.equal(await registrationCodeOf(api, a.key), aCode, 'the code is stable');
      const refusals = {
        "B's code": await verificationCertificate({
          caPem: ca,
          caKey: keys.privateKey,
          code: bCode,
        }),
        'another key': await verificationCertificate({
          caPem: ca,
          caKey: (await newKeys()).privateKey,
          code: aCode,
        }),
        'a CA': await certificate({
          subject: `CN=${aCode}`,
          issuer: 'CN=proof CA',
          publicKey: (await newKeys()).publicKey,
          signingKey: keys.privateKey,
          ca: true,
        }),
        'an extra CN': await certificate({
          subject: `CN=${aCode}, CN=extra`,
          issuer: 'CN=proof CA',
          publicKey: (await newKeys()).publicKey,
          signingKey: keys.privateKey,
          ca: false,
        }),
        'an expired one': await certificate({
          subject: `CN=${aCode}`,
          issuer: 'CN=proof CA',
          publicKey: (await newKeys()).publicKey,
          signingKey: keys.privateKey,
          ca: false,
          notBefore: new Date(Date.now() - 3 * DAY_MS),
          notAfter: new Date(Date.now() - 2 * DAY_MS),
        }),
      };
      for (const [what, proof] of Object.entries(refusals)) {
        const reply = await api.call('POST', '/v1/device-cas', a.key, {
          certificate: ca,
          verificationCertificate: proof,
        });
        assert.equal(reply.status, 400, what);
        assert.equal(reply.body.code, 'PALISADE_DEVICE_CA_UNVERIFIED', what);
      }
      assert.equal((await api.call('GET', '/v1/device-cas', a.key)).body.length, 0);
      const right = await upload(a.key, ca, keys.privateKey, aCode);
      assert.equal(right.status, 201, JSON.stringify(right.body));
    });

    it('a CA key proven by two tenants still belongs to the first', async () => {
      const a = await api.tenant('ca-shared-a');
      const b = await api.tenant('ca-shared-b');
      const keys = await newKeys();
      const ca = await selfSignedCa('CN=shared CA', keys);
      const first = await upload(a.key, ca, keys.privateKey, await registrationCodeOf(api, a.key));
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const second = await upload(b.key, ca, keys.privateKey, await registrationCodeOf(api, b.key));
      assert.equal(second.body.code, 'PALISADE_CREDENTIAL_TAKEN', JSON.stringify(second.body));
    });

    it("tenant B cannot trust A's CA key under a certificate of its own, nor claim A's devices", async () => {
      const a = await api.tenant('ca-key-a');
      const b = await api.tenant('ca-key-b');
      const aKeys = await newKeys();
      const aCa = await selfSignedCa('CN=plant CA', aKeys);
      const aCode = await registrationCodeOf(api, a.key);
      const bCode = await registrationCodeOf(api, b.key);
      const uploaded = await upload(a.key, aCa, aKeys.privateKey, aCode);
      assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
      // A device certificate A's own PKI issued, not yet registered with Palisade.
      const deviceKeys = await newKeys();
      const aDevice = await certificate({
        subject: 'CN=pump-7',
        issuer: 'CN=plant CA',
        publicKey: deviceKeys.publicKey,
        signingKey: aKeys.privateKey,
        ca: false,
      });
      // B re-signs A's CA subject and public key with a key of its own: a new fingerprint.
      const bKeys = await newKeys();
      const copy = await certificate({
        subject: 'CN=plant CA',
        issuer: 'CN=copycat',
        publicKey: aKeys.publicKey,
        signingKey: bKeys.privateKey,
        ca: true,
      });
      assert.notEqual(
        new X509Certificate(copy).fingerprint256,
        new X509Certificate(aCa).fingerprint256,
      );
      // B's key signs a proof its copy's (A's) public key does not verify.
      const trusted = await upload(b.key, copy, bKeys.privateKey, bCode);
      assert.equal(
        trusted.body.code,
        'PALISADE_DEVICE_CA_UNVERIFIED',
        JSON.stringify(trusted.body),
      );

      const own = await api.call('POST', '/v1/devices', b.key, { name: 'decoy' });
      const claim = await api.call('POST', `/v1/devices/${own.body.id}/credentials`, b.key, {
        type: 'x509',
        certificate: aDevice,
      });
      assert.equal(claim.body.code, 'PALISADE_CERTIFICATE_INVALID', JSON.stringify(claim.body));
      const pump = await api.call('POST', '/v1/devices', a.key, { name: 'pump-7' });
      const registered = await api.call('POST', `/v1/devices/${pump.body.id}/credentials`, a.key, {
        type: 'x509',
        certificate: aDevice,
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const der = new X509Certificate(aDevice).raw;
      assert.equal(
        (await api.platform.devices.authority.byCertificate(der))?.deviceId,
        pump.body.id,
      );
    });

    it('A may trust a renewed certificate of its own CA key', async () => {
      const a = await api.tenant('ca-renewal');
      const keys = await newKeys();
      const code = await registrationCodeOf(api, a.key);
      for (const days of [30, 60]) {
        const pem = await certificate({
          subject: 'CN=renewed CA',
          issuer: 'CN=renewed CA',
          publicKey: keys.publicKey,
          signingKey: keys.privateKey,
          ca: true,
          notAfter: new Date(Date.now() + days * DAY_MS),
        });
        const added = await upload(a.key, pem, keys.privateKey, code);
        assert.equal(added.status, 201, JSON.stringify(added.body));
      }
    });
  });
}

describe('device certificate checks', () => {
  it('a CA outside its validity vouches for nothing, though the device certificate is valid', async () => {
    const caKeys = await newKeys();
    const deviceKeys = await newKeys();
    const ca = await certificate({
      subject: 'CN=short CA',
      issuer: 'CN=short CA',
      publicKey: caKeys.publicKey,
      signingKey: caKeys.privateKey,
      ca: true,
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
    });
    const device = await certificate({
      subject: 'CN=long-lived',
      issuer: 'CN=short CA',
      publicKey: deviceKeys.publicKey,
      signingKey: caKeys.privateKey,
      ca: false,
      notBefore: new Date('2020-06-01T00:00:00Z'),
      notAfter: new Date('2030-01-01T00:00:00Z'),
    });
    const during = new Date('2020-07-01T00:00:00Z');
    assert.ok(checkDeviceCertificate(device, [ca], during));
    assert.throws(() => checkDeviceCertificate(device, [ca], new Date('2022-01-01T00:00:00Z')), {
      code: 'PALISADE_CERTIFICATE_INVALID',
    });
  });

  it('a device certificate whose extended key usage excludes TLS client authentication is refused', async () => {
    const caKeys = await newKeys();
    const deviceKeys = await newKeys();
    const ca = await certificate({
      subject: 'CN=usage CA',
      issuer: 'CN=usage CA',
      publicKey: caKeys.publicKey,
      signingKey: caKeys.privateKey,
      ca: true,
    });
    const device = (usages?: string[]) =>
      certificate({
        subject: 'CN=usage',
        issuer: 'CN=usage CA',
        publicKey: deviceKeys.publicKey,
        signingKey: caKeys.privateKey,
        ca: false,
        ...(usages === undefined ? {} : { usages }),
      });
    const now = new Date();
    for (const usages of [
      undefined,
      [ExtendedKeyUsage.clientAuth],
      [ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth],
    ])
      assert.ok(checkDeviceCertificate(await device(usages), [ca], now));
    for (const usages of [[ExtendedKeyUsage.serverAuth], [ExtendedKeyUsage.codeSigning]]) {
      const pem = await device(usages);
      assert.throws(() => checkDeviceCertificate(pem, [ca], now), {
        code: 'PALISADE_CERTIFICATE_INVALID',
      });
    }
  });

  it('a CA or device certificate with a weak key is refused, as a CSR with one is', async () => {
    const weak = (await webcrypto.subtle.generateKey(
      { ...RSA, modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]) },
      true,
      ['sign', 'verify'],
    )) as Keys;
    const weakCa = await certificate({
      subject: 'CN=weak CA',
      issuer: 'CN=weak CA',
      publicKey: weak.publicKey,
      signingKey: weak.privateKey,
      signingAlgorithm: RSA,
      ca: true,
    });
    const now = new Date();
    assert.throws(() => checkCa(weakCa, now), { code: 'PALISADE_CERTIFICATE_INVALID' });
    const caKeys = await newKeys();
    const ca = await certificate({
      subject: 'CN=strong CA',
      issuer: 'CN=strong CA',
      publicKey: caKeys.publicKey,
      signingKey: caKeys.privateKey,
      ca: true,
    });
    assert.ok(checkCa(ca, now));
    const weakDevice = await certificate({
      subject: 'CN=weak device',
      issuer: 'CN=strong CA',
      publicKey: weak.publicKey,
      signingKey: caKeys.privateKey,
      ca: false,
    });
    assert.throws(() => checkDeviceCertificate(weakDevice, [ca], now), {
      code: 'PALISADE_CERTIFICATE_INVALID',
    });
  });
});
