/**
 * Palisade-generated device CAs on each backend: a tenant generates a CA (its private key
 * sealed under the tenant's key hierarchy, never stored in plaintext), has it sign a device's
 * CSR or a key made for the device, and the device connects with that certificate to the
 * platform's MQTTS and WSS listeners (mosquitto_pub and MQTT.js), its PUBACK meaning stored
 * and ledgered. Tenant B can neither use nor sign with A's CA; deleting the CA revokes what it
 * signed; deleting the tenant shreds the key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import {
  CryptoError,
  DataKeyring,
  decryptField,
  openTenantKek,
  unwrapDataKey,
} from '@palisade/crypto';
import { DeviceAuthority } from '../src/devices/index.ts';
import { openPlatformKms } from '../src/keys/index.ts';
import { storeLocator } from '../src/records/index.ts';
import { ADMIN_TOKEN } from './support/api.ts';
import { backendNames } from './support/backends.ts';
import { cliAddress, mqttClient, publishOutcome, runCli } from './support/mqtt-peers.ts';
import { type MqttPlatform, startMqttPlatform } from './support/mqtt-platform.ts';
import { selfSignedCertificate } from './support/tls-certificate.ts';

const TELEMETRY = 'v1/devices/me/telemetry';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A device key and CSR made by openssl, as firmware would (`-newkey` options vary). */
function deviceCsr(dir: string, name: string, newkey: string[]): { csr: string; key: string } {
  openssl(
    dir,
    ...['req', '-new', ...newkey, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`],
    ...['-subj', `/CN=${name}`],
  );
  return { csr: readFileSync(join(dir, `${name}.csr`), 'utf8'), key: join(dir, `${name}.key`) };
}

for (const backend of backendNames()) {
  describe(`Palisade-generated device CAs (${backend})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-device-ca-'));
    const server = selfSignedCertificate(dir);
    const ca = readFileSync(server.cert);
    let p: MqttPlatform;
    let a: { id: string; key: string };
    let b: { id: string; key: string };
    let caId: string;
    let caPem: string;

    before(async () => {
      p = await startMqttPlatform(backend, {
        tlsCert: server.cert,
        tlsKey: server.key,
        mqttTls: '127.0.0.1:0',
        mqttWs: '127.0.0.1:0',
      });
      a = await p.tenant('ca-a');
      b = await p.tenant('ca-b');
    });
    after(async () => {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('signing before a CA is generated is refused with PALISADE_DEVICE_CA_NOT_FOUND', async () => {
      const dev = await p.device(a.key, 'early');
      const reply = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
      });
      assert.equal(reply.status, 409);
      assert.equal(reply.body.code, 'PALISADE_DEVICE_CA_NOT_FOUND');
    });

    it('generates a CA: a P-256 CA certificate, listed as generated, ledgered', async () => {
      const reply = await p.call('POST', '/v1/device-cas', a.key, {
        generate: true,
        commonName: 'Acme devices',
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.equal(reply.body.generated, true);
      caId = reply.body.id;
      caPem = reply.body.certificate;
      const cert = new X509Certificate(caPem);
      assert.equal(cert.ca, true);
      assert.equal(cert.subject, 'CN=Acme devices');
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(cert.verify(cert.publicKey), 'self-signed');
      const listed = await p.call('GET', '/v1/device-cas', a.key);
      assert.deepEqual(
        listed.body.map((c: { id: string; generated: boolean }) => [c.id, c.generated]),
        [[caId, true]],
      );
      assert.ok((await p.ledgerResources(a.id)).includes(`device-cas/${caId}`));
    });

    it("the CA's private key is stored only sealed, and opens only through the tenant's KEK", async () => {
      const row = await caKeyRow(p, a.id, caId);
      assert.ok(row !== undefined);
      const pkcs8 = await openWithAnyKek(p, a.id, caId, row);
      assert.ok(pkcs8 !== undefined, 'the sealed key opens with the tenant KEK');
      const publicKey = createPublicKey(
        createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
      );
      assert.ok(publicKey.equals(new X509Certificate(caPem).publicKey), 'it is the CA key');
      assert.equal(Buffer.from(row.sealedKey).indexOf(Buffer.from(pkcs8).subarray(-32)), -1);
    });

    it('signs an openssl CSR; mosquitto_pub connects over MQTTS with it and its data is stored', async () => {
      const dev = await p.device(a.key, 'csr-sensor');
      const made = deviceCsr(dir, 'csr-sensor', [
        ...['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
      ]);
      const reply = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        csr: made.csr,
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.equal(reply.body.type, 'x509');
      assert.equal(reply.body.privateKey, undefined, 'the key never left the device');
      assert.equal(reply.body.caCertificate, caPem);
      const cert = new X509Certificate(reply.body.certificate);
      assert.equal(cert.subject, `CN=${dev.id}`);
      assert.ok(cert.checkIssued(new X509Certificate(caPem)));
      assert.equal(cert.fingerprint256.replaceAll(':', '').toLowerCase(), reply.body.fingerprint);
      const certFile = join(dir, 'csr-sensor.pem');
      writeFileSync(certFile, reply.body.certificate);
      const result = await runCli('mosquitto_pub', [
        ...cliAddress(String(p.platform.mqtt?.tlsUrl)),
        ...['--cafile', server.cert, '--cert', certFile, '--key', made.key],
        ...['-q', '1', '-t', TELEMETRY, '-m', JSON.stringify({ signed: 7 })],
      ]);
      assert.equal(result.code, 0, result.stderr);
      const latest = await p.call('GET', `/v1/devices/${dev.id}/telemetry/latest`, a.key);
      assert.match(JSON.stringify(latest.body), /"signed".*7/);
      assert.ok((await p.ledgerResources(a.id)).includes(`telemetry/${dev.id}`));
    });

    it('an Ed25519 CSR is signed too; weak RSA, foreign-signed and garbage CSRs are refused', async () => {
      const dev = await p.device(a.key, 'csr-kinds');
      const sign = (csr: string) =>
        p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, { type: 'x509', csr });
      assert.equal((await sign(deviceCsr(dir, 'ed', ['-newkey', 'ed25519']).csr)).status, 201);
      const weak = await sign(deviceCsr(dir, 'weak', ['-newkey', 'rsa:1024']).csr);
      assert.equal(weak.body.code, 'PALISADE_CERTIFICATE_INVALID');
      assert.match(weak.body.detail, /at least 2048 bits/);
      const good = deviceCsr(dir, 'tampered', ['-newkey', 'ed25519']).csr;
      const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      der[der.length - 1]! ^= 1;
      const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
      assert.match((await sign(tampered)).body.detail, /signature does not verify/);
      assert.equal((await sign('not a csr')).body.code, 'PALISADE_CERTIFICATE_INVALID');
      const both = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        csr: good,
        generate: true,
      });
      assert.equal(both.status, 400);
      const credentials = await p.call('GET', `/v1/devices/${dev.id}/credentials`, a.key);
      assert.equal(credentials.body.filter((c: { type: string }) => c.type === 'x509').length, 1);
    });

    it('generates a key and certificate once; MQTT.js connects with them over MQTTS and WSS', async () => {
      const dev = await p.device(a.key, 'generated-sensor');
      const reply = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
        caId,
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      const { privateKey, certificate } = reply.body;
      assert.match(privateKey, /^-----BEGIN PRIVATE KEY-----/);
      const listed = await p.call('GET', `/v1/devices/${dev.id}/credentials`, a.key);
      assert.doesNotMatch(JSON.stringify(listed.body), /PRIVATE KEY|BEGIN CERTIFICATE/);
      for (const url of [p.platform.mqtt?.tlsUrl, p.platform.mqtt?.wsUrl]) {
        const client = await mqttClient(String(url), { key: privateKey, cert: certificate, ca });
        const sent = { over: String(url).split(':')[0] };
        assert.equal(await publishOutcome(client, TELEMETRY, JSON.stringify(sent)), 'acknowledged');
        await client.endAsync();
      }
      const latest = await p.call('GET', `/v1/devices/${dev.id}/telemetry/latest`, a.key);
      assert.match(JSON.stringify(latest.body), /"over"/);
    });

    it("tenant B can neither use A's CA nor sign with it", async () => {
      const victim = await p.device(a.key, 'victim');
      const own = await p.device(b.key, 'attacker');
      const forA = await p.call('POST', `/v1/devices/${victim.id}/credentials`, b.key, {
        type: 'x509',
        generate: true,
      });
      assert.equal(forA.status, 404, "B cannot certify A's device");
      const withAsCa = await p.call('POST', `/v1/devices/${own.id}/credentials`, b.key, {
        type: 'x509',
        generate: true,
        caId,
      });
      assert.equal(withAsCa.body.code, 'PALISADE_DEVICE_CA_NOT_FOUND', "B cannot sign with A's CA");
      const trustAs = await p.call('POST', '/v1/device-cas', b.key, { certificate: caPem });
      assert.equal(trustAs.body.code, 'PALISADE_DEVICE_CA_UNVERIFIED', "B cannot trust A's CA");
      const issuedByA = await p.call('POST', `/v1/devices/${victim.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
      });
      const claim = await p.call('POST', `/v1/devices/${own.id}/credentials`, b.key, {
        type: 'x509',
        certificate: issuedByA.body.certificate,
      });
      assert.equal(
        claim.body.code,
        'PALISADE_CERTIFICATE_INVALID',
        "B cannot claim A's certificate",
      );
      assert.equal((await p.call('DELETE', `/v1/device-cas/${caId}`, b.key)).status, 404);
      const bCa = await p.call('POST', '/v1/device-cas', b.key, { generate: true });
      const bCert = await p.call('POST', `/v1/devices/${own.id}/credentials`, b.key, {
        type: 'x509',
        generate: true,
      });
      assert.ok(
        new X509Certificate(bCert.body.certificate).checkIssued(
          new X509Certificate(bCa.body.certificate),
        ),
      );
      const client = await mqttClient(String(p.platform.mqtt?.tlsUrl), {
        key: bCert.body.privateKey,
        cert: bCert.body.certificate,
        ca,
      });
      await client.publishAsync(TELEMETRY, JSON.stringify({ mine: 1 }), { qos: 1 });
      await client.endAsync();
      const victimLatest = await p.call('GET', `/v1/devices/${victim.id}/telemetry/latest`, a.key);
      assert.doesNotMatch(JSON.stringify(victimLatest.body), /"mine"/);
      const ownLatest = await p.call('GET', `/v1/devices/${own.id}/telemetry/latest`, b.key);
      assert.match(JSON.stringify(ownLatest.body), /"mine"/);
    });

    it('deleting the CA revokes its certificates at once and deletes its sealed key', async () => {
      const dev = await p.device(a.key, 'revoked');
      const issued = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
      });
      const connect = () =>
        mqttClient(String(p.platform.mqtt?.tlsUrl), {
          key: issued.body.privateKey,
          cert: issued.body.certificate,
          ca,
        });
      await (await connect()).endAsync();
      assert.equal((await p.call('DELETE', `/v1/device-cas/${caId}`, a.key)).status, 204);
      const refused = await connect().then(
        () => assert.fail('a certificate of a deleted CA must not authenticate'),
        (e: Error & { code?: number }) => e,
      );
      assert.equal(refused.code, 4);
      assert.equal(await caKeyRow(p, a.id, caId), undefined);
      const again = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
        caId,
      });
      assert.equal(again.body.code, 'PALISADE_DEVICE_CA_NOT_FOUND');
    });

    it('deleting the CA cuts off a live connection made with a certificate it signed', async () => {
      const own = await p.call('POST', '/v1/device-cas', a.key, { generate: true });
      const dev = await p.device(a.key, 'connected-when-revoked');
      const issued = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
        caId: own.body.id,
      });
      const client = await mqttClient(String(p.platform.mqtt?.tlsUrl), {
        key: issued.body.privateKey,
        cert: issued.body.certificate,
        ca,
      });
      assert.equal(await publishOutcome(client, TELEMETRY, '{"live":1}'), 'acknowledged');
      assert.equal((await p.call('DELETE', `/v1/device-cas/${own.body.id}`, a.key)).status, 204);
      assert.equal(await publishOutcome(client, TELEMETRY, '{"live":2}'), 'refused');
      const latest = await p.call('GET', `/v1/devices/${dev.id}/telemetry/latest?keys=live`, a.key);
      assert.equal(latest.body.live[0].value, 1, 'nothing was stored after the CA went');
    });

    it('another process cuts off a connection of a deleted CA once its cache time runs out', async () => {
      const own = await p.call('POST', '/v1/device-cas', a.key, { generate: true });
      const dev = await p.device(a.key, 'elsewhere-when-revoked');
      const issued = await p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
        type: 'x509',
        generate: true,
        caId: own.body.id,
      });
      // Another process's authenticator: same stores, nobody tells it of the deletion.
      const { stores, devices, settings } = p.platform;
      const elsewhere = new DeviceAuthority(
        stores.controlPlane.devices,
        storeLocator(stores.shards),
        devices.registry,
        { ttlMs: settings.authCacheTtlMs, foundMax: 100, missingMax: 100 },
      );
      const identity = await elsewhere.byCertificate(
        new X509Certificate(issued.body.certificate).raw,
      );
      assert.equal(identity?.deviceId, dev.id);
      assert.equal((await p.call('DELETE', `/v1/device-cas/${own.body.id}`, a.key)).status, 204);
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        mock.timers.tick(settings.authCacheTtlMs + 1);
        assert.equal(await elsewhere.current(identity!), false);
      } finally {
        mock.timers.reset();
      }
    });

    it('deleting the tenant shreds its CA key: no KEK the platform holds opens a copy', async () => {
      const c = await p.tenant('ca-shredded');
      const made = await p.call('POST', '/v1/device-cas', c.key, { generate: true });
      const copy = await caKeyRow(p, c.id, made.body.id);
      assert.ok(copy !== undefined);
      assert.ok((await openWithAnyKek(p, c.id, made.body.id, copy)) !== undefined);
      const deleted = await p.call('DELETE', `/v1/platform/tenants/${c.id}`, ADMIN_TOKEN);
      assert.equal(deleted.status, 204);
      assert.equal(await openWithAnyKek(p, c.id, made.body.id, copy), undefined);
    });
  });
}

for (const backend of backendNames()) {
  describe(`a generated CA certifies no device beyond its own validity (${backend})`, () => {
    let p: MqttPlatform;
    let a: { id: string; key: string };

    before(async () => {
      p = await startMqttPlatform(backend, {
        deviceCaValidityDays: '2',
        deviceCertValidityDays: '30',
      });
      a = await p.tenant('ca-short');
    });
    after(() => p.close());

    it('a certificate ends when its CA does; once the CA has expired, it signs nothing', async () => {
      const made = await p.call('POST', '/v1/device-cas', a.key, { generate: true });
      const caNotAfter = new X509Certificate(made.body.certificate).validToDate;
      const dev = await p.device(a.key, 'short-lived');
      const issue = () =>
        p.call('POST', `/v1/devices/${dev.id}/credentials`, a.key, {
          type: 'x509',
          generate: true,
          caId: made.body.id,
        });
      const issued = await issue();
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const notAfter = new X509Certificate(issued.body.certificate).validToDate;
      assert.ok(
        notAfter <= caNotAfter,
        `${notAfter.toISOString()} is after the CA's ${caNotAfter.toISOString()}`,
      );
      mock.timers.enable({ apis: ['Date'], now: Date.now() });
      try {
        mock.timers.tick(3 * 86_400_000);
        const late = await issue();
        assert.equal(late.status, 409, JSON.stringify(late.body));
        assert.equal(late.body.code, 'PALISADE_DEVICE_CA_EXPIRED');
      } finally {
        mock.timers.reset();
      }
      const credentials = await p.call('GET', `/v1/devices/${dev.id}/credentials`, a.key);
      assert.equal(credentials.body.filter((c: { type: string }) => c.type === 'x509').length, 1);
    });
  });
}

type CaKeyRow = { wrappedKey: Uint8Array; sealedKey: Uint8Array };

/** The sealed key row, read straight from the tenant's store. */
async function caKeyRow(p: MqttPlatform, tenantId: string, caId: string) {
  const tenant = await p.platform.stores.controlPlane.getTenant(tenantId);
  const store = await p.platform.stores.shards.get(tenant!.shard)!.tenant(tenantId);
  return store.reader.deviceCas.getCaKey(caId);
}

/** Tries every KEK the control plane holds (with the master key) on a copy of the row. */
async function openWithAnyKek(
  p: MqttPlatform,
  tenantId: string,
  caId: string,
  row: CaKeyRow,
): Promise<Uint8Array | undefined> {
  const kms = await openPlatformKms(p.fixture.settings, undefined, { generateIfMissing: false });
  for (const kek of await p.platform.stores.controlPlane.keys.listAllKeks()) {
    try {
      const secret = await openTenantKek(kms, kek);
      const key = unwrapDataKey(secret, { tenantId, kekVersion: kek.version }, row.wrappedKey);
      return decryptField(
        new DataKeyring([key]),
        {
          tenantId,
          collection: 'palisade.secrets',
          recordId: `device-ca/${caId}`,
          field: 'secret',
        },
        row.sealedKey,
      );
    } catch (error) {
      if (!(error instanceof CryptoError)) throw error;
    }
  }
  return undefined;
}
