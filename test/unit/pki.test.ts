/**
 * PKI: chain verification (RFC 5280 §6.1 path validation, §4.2.1.3 keyUsage, §4.2.1.9 basicConstraints,
 * §4.2.1.12 extKeyUsage; RFC 6125 §6.4 host names), credential loading, and the `dtls certs` generator
 * (checked against the openssl CLI).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { webcrypto, X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { generateDevCertificates } from '../../src/cli/certs.js';
import {
  checkKeyMatchesCertificate,
  loadCaFile,
  loadCredentialFiles,
  parsePemCertificates,
} from '../../src/pki/credentials.js';
import {
  TrustStore,
  verifyCertificateChain,
  describeCertificate,
  decodeBasicConstraints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  MAX_PATH_LENGTH,
  type VerifyOptions,
  type PeerCertificate,
} from '../../src/pki/verifier.js';
import { ApiMisuseError, CertificateError } from '../../src/errors.js';
import { AlertDescription } from '../../src/msgs/enums.js';

const crypto = webcrypto;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.now();

// ---------------------------------------------------------------------------------------------------------
// Crafting certificates directly with @peculiar/x509.

type Keys = webcrypto.CryptoKeyPair;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIG = { name: 'ECDSA', hash: 'SHA-256' } as const;

async function keys(): Promise<Keys> {
  return crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
}

interface Issued {
  cert: x509.X509Certificate;
  der: Uint8Array;
  keys: Keys;
  name: string;
}

let serial = 1;
async function issue(opts: {
  name: string;
  issuer?: Issued; // absent → self-signed
  notBefore?: number;
  notAfter?: number;
  extensions?: x509.Extension[];
  ca?: boolean;
  signingKeys?: Keys; // override the key that signs (forgery)
}): Promise<Issued> {
  const k = await keys();
  const signer = opts.signingKeys ?? opts.issuer?.keys ?? k;
  const extensions = opts.extensions ?? (opts.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(k.publicKey, false, crypto),
      ]
    : [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }], false),
      ]);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: (serial++).toString(16).padStart(4, '0'),
      subject: opts.name,
      issuer: opts.issuer?.name ?? opts.name,
      notBefore: new Date(opts.notBefore ?? NOW - HOUR),
      notAfter: new Date(opts.notAfter ?? NOW + 30 * DAY),
      publicKey: k.publicKey,
      signingKey: signer.privateKey,
      signingAlgorithm: SIG,
      extensions,
    },
    crypto,
  );
  return { cert, der: new Uint8Array(cert.rawData), keys: k, name: opts.name };
}

function leafExtensions(opts: { eku?: string[]; ku?: number; san?: x509.JsonGeneralNames | null } = {}): x509.Extension[] {
  const exts: x509.Extension[] = [
    new x509.KeyUsagesExtension(opts.ku ?? x509.KeyUsageFlags.digitalSignature, true),
  ];
  if (opts.eku) exts.push(new x509.ExtendedKeyUsageExtension(opts.eku, false));
  if (opts.san !== null) exts.push(new x509.SubjectAlternativeNameExtension(opts.san ?? [{ type: 'dns', value: 'localhost' }], false));
  return exts;
}

function expectCertError(fn: () => unknown, code: string, alert: AlertDescription): CertificateError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CertificateError, `expected CertificateError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.alert, alert, `alert for ${code}`);
  return caught;
}

function opts(trustedCas: readonly Uint8Array[], extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { trustedCas, role: 'server', now: NOW, rejectUnauthorized: true, ...extra };
}

// ---------------------------------------------------------------------------------------------------------

let dir: string;
let ecDir: string;
let rsaDir: string;
let caDer: Uint8Array[];
let serverChain: Uint8Array[];
let clientChain: Uint8Array[];

let root: Issued;
let inter: Issued;
let leafViaInter: Issued;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dtls-pki-'));
  ecDir = join(dir, 'ec');
  rsaDir = join(dir, 'rsa');
  await generateDevCertificates({ dir: ecDir });
  await generateDevCertificates({ dir: rsaDir, rsa: true });
  caDer = loadCaFile(join(ecDir, 'ca-cert.pem'));
  serverChain = loadCredentialFiles(join(ecDir, 'server-cert.pem'), join(ecDir, 'server-key.pem')).certificateChain;
  clientChain = loadCredentialFiles(join(ecDir, 'client-cert.pem'), join(ecDir, 'client-key.pem')).certificateChain;
  root = await issue({ name: 'CN=Test Root', ca: true, notBefore: NOW - 100 * DAY, notAfter: NOW + 100 * DAY });
  inter = await issue({
    name: 'CN=Test Intermediate',
    issuer: root,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  leafViaInter = await issue({ name: 'CN=leaf.example', issuer: inter, extensions: leafExtensions({ san: [{ type: 'dns', value: 'leaf.example' }] }) });
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('verifyCertificateChain: valid chains (RFC 5280 §6.1)', () => {
  test('generated server certificate verifies against the generated CA', () => {
    const r = verifyCertificateChain(serverChain, opts(caDer, { servername: 'localhost' }));
    assert.equal(r.authorized, true);
    assert.equal(r.authorizationError, undefined);
    assert.equal(r.leaf.subject, 'CN=localhost');
    assert.equal(r.chain.length, 2);
    assert.match(r.chain[1]!.subject, /DTLS Development CA/);
    assert.equal(r.leaf.keyType, 'ec-p256');
    assert.match(r.leaf.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.deepEqual(Buffer.from(r.leaf.raw), Buffer.from(serverChain[0]!));
    // publicKeySpki is the certificate's SubjectPublicKeyInfo
    const spki = new X509Certificate(serverChain[0]!).publicKey.export({ type: 'spki', format: 'der' });
    assert.deepEqual(Buffer.from(r.leaf.publicKeySpki), spki);
  });

  test('generated client certificate verifies for role client', () => {
    const r = verifyCertificateChain(clientChain, opts(caDer, { role: 'client' }));
    assert.equal(r.authorized, true);
    assert.equal(r.leaf.subject, 'CN=dtls-client');
  });

  test('RSA generated chain verifies', () => {
    const ca = loadCaFile(join(rsaDir, 'ca-cert.pem'));
    const chain = parsePemCertificates(readFileSync(join(rsaDir, 'server-cert.pem'), 'utf8'), 'rsa server');
    const r = verifyCertificateChain(chain, opts(ca, { servername: '127.0.0.1' }));
    assert.equal(r.authorized, true);
    assert.equal(r.leaf.keyType, 'rsa');
  });

  test('a TrustStore can be passed instead of trustedCas', () => {
    const trust = new TrustStore(caDer);
    assert.equal(trust.size, 1);
    assert.equal(trust.has(caDer[0]!), true);
    assert.equal(trust.has(serverChain[0]!), false);
    const dn = trust.distinguishedNames();
    assert.equal(dn.length, 1);
    assert.equal(dn[0]![0], 0x30);
    const r = verifyCertificateChain(serverChain, { trust, role: 'server', servername: 'localhost', now: NOW, rejectUnauthorized: true });
    assert.equal(r.authorized, true);
  });

  test('leaf → intermediate → root, intermediates presented in any order', () => {
    const trusted = [root.der];
    for (const chain of [
      [leafViaInter.der, inter.der],
      [leafViaInter.der, root.der, inter.der], // out of order, root included
      [leafViaInter.der, inter.der, root.der],
    ]) {
      const r = verifyCertificateChain(chain, opts(trusted, { servername: 'leaf.example' }));
      assert.equal(r.authorized, true);
      assert.deepEqual(r.chain.map((c) => c.subject), ['CN=leaf.example', 'CN=Test Intermediate', 'CN=Test Root']);
    }
  });

  test('a trusted intermediate is a trust anchor on its own', () => {
    const r = verifyCertificateChain([leafViaInter.der], opts([inter.der], { servername: 'leaf.example' }));
    assert.equal(r.authorized, true);
    assert.equal(r.chain.length, 2);
  });

  test('missing intermediate → ERR_DTLS_UNKNOWN_CA', () => {
    expectCertError(() => verifyCertificateChain([leafViaInter.der], opts([root.der])), 'ERR_DTLS_UNKNOWN_CA', AlertDescription.unknown_ca);
  });

  test('a self-signed leaf is trusted only when it is itself in the trust store', async () => {
    const self = await issue({ name: 'CN=localhost', extensions: leafExtensions() });
    const e = expectCertError(() => verifyCertificateChain([self.der], opts(caDer)), 'ERR_DTLS_UNKNOWN_CA', AlertDescription.unknown_ca);
    assert.match(e.message, /self-signed/);
    const r = verifyCertificateChain([self.der], opts([self.der], { servername: 'localhost' }));
    assert.equal(r.authorized, true);
    assert.equal(r.chain.length, 1);
  });

  test('a different CA with the same name is unknown (AKI/SKI mismatch, RFC 5280 §4.2.1.1)', () => {
    const otherCa = loadCaFile(join(rsaDir, 'ca-cert.pem')); // same subject name, different key
    expectCertError(() => verifyCertificateChain(serverChain, opts(otherCa)), 'ERR_DTLS_UNKNOWN_CA', AlertDescription.unknown_ca);
  });
});

describe('verifyCertificateChain: failures', () => {
  test('empty chain → ERR_DTLS_NO_CERTIFICATE, even with rejectUnauthorized false', () => {
    expectCertError(() => verifyCertificateChain([], opts(caDer, { rejectUnauthorized: false })), 'ERR_DTLS_NO_CERTIFICATE', AlertDescription.bad_certificate);
  });

  test('malformed DER → ERR_DTLS_BAD_CERTIFICATE, even with rejectUnauthorized false', () => {
    const truncated = serverChain[0]!.subarray(0, 100);
    const trailing = new Uint8Array([...serverChain[0]!, 0]);
    for (const bad of [new Uint8Array([0x30, 0x03, 0x02, 0x01]), truncated, trailing, new Uint8Array(0), new TextEncoder().encode('-----BEGIN CERTIFICATE-----')]) {
      expectCertError(() => verifyCertificateChain([bad], opts(caDer, { rejectUnauthorized: false })), 'ERR_DTLS_BAD_CERTIFICATE', AlertDescription.bad_certificate);
    }
    // a malformed intermediate too
    expectCertError(() => verifyCertificateChain([serverChain[0]!, truncated], opts(caDer)), 'ERR_DTLS_BAD_CERTIFICATE', AlertDescription.bad_certificate);
  });

  test('expired leaf → ERR_DTLS_CERT_EXPIRED / certificate_expired (RFC 5280 §4.1.2.5)', async () => {
    const expired = await issue({ name: 'CN=localhost', issuer: root, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY, extensions: leafExtensions() });
    expectCertError(() => verifyCertificateChain([expired.der], opts([root.der])), 'ERR_DTLS_CERT_EXPIRED', AlertDescription.certificate_expired);
    // ... and valid at an injected earlier clock
    const r = verifyCertificateChain([expired.der], opts([root.der], { now: NOW - 2 * DAY }));
    assert.equal(r.authorized, true);
  });

  test('not-yet-valid leaf → ERR_DTLS_CERT_NOT_YET_VALID / bad_certificate', async () => {
    const future = await issue({ name: 'CN=localhost', issuer: root, notBefore: NOW + DAY, notAfter: NOW + 10 * DAY, extensions: leafExtensions() });
    expectCertError(() => verifyCertificateChain([future.der], opts([root.der])), 'ERR_DTLS_CERT_NOT_YET_VALID', AlertDescription.bad_certificate);
  });

  test('expired intermediate → ERR_DTLS_CERT_EXPIRED', async () => {
    const oldInter = await issue({
      name: 'CN=Old Intermediate',
      issuer: root,
      notBefore: NOW - 10 * DAY,
      notAfter: NOW - DAY,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    const leaf = await issue({ name: 'CN=localhost', issuer: oldInter, extensions: leafExtensions() });
    expectCertError(() => verifyCertificateChain([leaf.der, oldInter.der], opts([root.der])), 'ERR_DTLS_CERT_EXPIRED', AlertDescription.certificate_expired);
  });

  test('wrong EKU for the role → ERR_DTLS_CERT_PURPOSE / unsupported_certificate (RFC 5280 §4.2.1.12)', async () => {
    // the client certificate (EKU clientAuth) presented by a server, and the server certificate by a client
    expectCertError(() => verifyCertificateChain(clientChain, opts(caDer)), 'ERR_DTLS_CERT_PURPOSE', AlertDescription.unsupported_certificate);
    expectCertError(() => verifyCertificateChain(serverChain, opts(caDer, { role: 'client' })), 'ERR_DTLS_CERT_PURPOSE', AlertDescription.unsupported_certificate);
    const codeSigning = await issue({ name: 'CN=localhost', issuer: root, extensions: leafExtensions({ eku: ['1.3.6.1.5.5.7.3.3'] }) });
    expectCertError(() => verifyCertificateChain([codeSigning.der], opts([root.der])), 'ERR_DTLS_CERT_PURPOSE', AlertDescription.unsupported_certificate);
    // anyExtendedKeyUsage, and no EKU at all, allow both roles
    const any = await issue({ name: 'CN=localhost', issuer: root, extensions: leafExtensions({ eku: ['2.5.29.37.0'] }) });
    const none = await issue({ name: 'CN=localhost', issuer: root, extensions: leafExtensions() });
    for (const c of [any, none]) {
      for (const role of ['server', 'client'] as const) {
        assert.equal(verifyCertificateChain([c.der], opts([root.der], { role })).authorized, true);
      }
    }
  });

  test('leaf keyUsage without digitalSignature → ERR_DTLS_CERT_PURPOSE (RFC 5280 §4.2.1.3)', async () => {
    const encOnly = await issue({ name: 'CN=localhost', issuer: root, extensions: leafExtensions({ ku: x509.KeyUsageFlags.keyEncipherment }) });
    expectCertError(() => verifyCertificateChain([encOnly.der], opts([root.der])), 'ERR_DTLS_CERT_PURPOSE', AlertDescription.unsupported_certificate);
  });

  test('issuer without cA → ERR_DTLS_INVALID_CA / unknown_ca (RFC 5280 §4.2.1.9)', async () => {
    const notCa = await issue({
      name: 'CN=Not A CA',
      issuer: root,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    const leaf = await issue({ name: 'CN=localhost', issuer: notCa, extensions: leafExtensions() });
    // as a presented intermediate
    expectCertError(() => verifyCertificateChain([leaf.der, notCa.der], opts([root.der])), 'ERR_DTLS_INVALID_CA', AlertDescription.unknown_ca);
    // and as a trust anchor
    expectCertError(() => verifyCertificateChain([leaf.der], opts([notCa.der])), 'ERR_DTLS_INVALID_CA', AlertDescription.unknown_ca);
    // a "CA" with keyUsage but no basicConstraints at all is not a CA either
    const noBc = await issue({ name: 'CN=No BC', issuer: root, extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)] });
    const leaf2 = await issue({ name: 'CN=localhost', issuer: noBc, extensions: leafExtensions() });
    expectCertError(() => verifyCertificateChain([leaf2.der, noBc.der], opts([root.der])), 'ERR_DTLS_INVALID_CA', AlertDescription.unknown_ca);
  });

  test('CA keyUsage without keyCertSign → ERR_DTLS_INVALID_CA (RFC 5280 §4.2.1.3)', async () => {
    const crlOnly = await issue({
      name: 'CN=CRL Only',
      issuer: root,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.cRLSign, true)],
    });
    const leaf = await issue({ name: 'CN=localhost', issuer: crlOnly, extensions: leafExtensions() });
    const e = expectCertError(() => verifyCertificateChain([leaf.der, crlOnly.der], opts([root.der])), 'ERR_DTLS_INVALID_CA', AlertDescription.unknown_ca);
    assert.match(e.message, /keyCertSign/);
  });

  test('pathLenConstraint exceeded → ERR_DTLS_INVALID_CA (RFC 5280 §4.2.1.9)', async () => {
    // inter has pathLen 0: it may not issue another CA that then issues the leaf
    const sub = await issue({ name: 'CN=Sub CA', issuer: inter, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
    const leaf = await issue({ name: 'CN=localhost', issuer: sub, extensions: leafExtensions() });
    const e = expectCertError(() => verifyCertificateChain([leaf.der, sub.der, inter.der], opts([root.der])), 'ERR_DTLS_INVALID_CA', AlertDescription.unknown_ca);
    assert.match(e.message, /allows 0/);
  });

  test('bad signature → ERR_DTLS_CERT_SIGNATURE / decrypt_error', async () => {
    const attacker = await keys();
    // issuer name of the trusted root, no AKI, signed by another key
    const forged = await issue({ name: 'CN=localhost', issuer: root, signingKeys: attacker, extensions: leafExtensions() });
    expectCertError(() => verifyCertificateChain([forged.der], opts([root.der])), 'ERR_DTLS_CERT_SIGNATURE', AlertDescription.decrypt_error);
  });

  test('unknown critical extension → ERR_DTLS_CERT_UNSUPPORTED_EXTENSION (RFC 5280 §4.2)', async () => {
    const exts = [...leafExtensions(), new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00]))];
    const leaf = await issue({ name: 'CN=localhost', issuer: root, extensions: exts });
    expectCertError(() => verifyCertificateChain([leaf.der], opts([root.der])), 'ERR_DTLS_CERT_UNSUPPORTED_EXTENSION', AlertDescription.unsupported_certificate);
    // the same extension non-critical is ignored
    const exts2 = [...leafExtensions(), new x509.Extension('1.3.6.1.4.1.99999.1', false, new Uint8Array([0x05, 0x00]))];
    const leaf2 = await issue({ name: 'CN=localhost', issuer: root, extensions: exts2 });
    assert.equal(verifyCertificateChain([leaf2.der], opts([root.der])).authorized, true);
  });

  test(`paths longer than ${MAX_PATH_LENGTH} certificates → ERR_DTLS_CERT_CHAIN_TOO_LONG / unknown_ca`, async () => {
    const cas: Issued[] = [];
    let parent = root;
    for (let i = 0; i < MAX_PATH_LENGTH - 1; i++) {
      parent = await issue({ name: `CN=Level ${i}`, issuer: parent, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
      cas.push(parent);
    }
    const mk = (issuer: Issued) => issue({ name: 'CN=localhost', issuer, extensions: leafExtensions() });
    // leaf + (MAX - 2) intermediates + root = MAX certificates: accepted
    const fits = await mk(cas[cas.length - 2]!);
    const r = verifyCertificateChain([fits.der, ...cas.slice(0, -1).map((c) => c.der).reverse()], opts([root.der]));
    assert.equal(r.chain.length, MAX_PATH_LENGTH);
    // one more intermediate: rejected
    const tooDeep = await mk(cas[cas.length - 1]!);
    expectCertError(
      () => verifyCertificateChain([tooDeep.der, ...cas.map((c) => c.der)], opts([root.der])),
      'ERR_DTLS_CERT_CHAIN_TOO_LONG',
      AlertDescription.unknown_ca,
    );
  });

  test('too many presented certificates → ERR_DTLS_CERT_CHAIN_TOO_LONG', () => {
    const many = Array.from({ length: 17 }, () => serverChain[0]!);
    expectCertError(() => verifyCertificateChain(many, opts(caDer)), 'ERR_DTLS_CERT_CHAIN_TOO_LONG', AlertDescription.bad_certificate);
  });

  test('a bad CA in trustedCas is an API error', () => {
    assert.throws(() => new TrustStore([new Uint8Array([1, 2, 3])]), (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_CA');
  });
});

describe('extension decoders agree with @peculiar/x509', () => {
  const value = (e: x509.Extension): Uint8Array => new Uint8Array(e.value);

  test('keyUsage: every combination of the nine bits (RFC 5280 §4.2.1.3)', () => {
    for (let flags = 1; flags < 512; flags++) {
      const ext = new x509.KeyUsagesExtension(flags, true);
      assert.equal(decodeKeyUsage(value(ext)), flags, `flags ${flags}`);
      assert.equal(new x509.KeyUsagesExtension(ext.rawData).usages, flags);
    }
  });

  test('basicConstraints: cA and pathLenConstraint (RFC 5280 §4.2.1.9)', () => {
    for (const ca of [true, false]) {
      for (const pathLength of [undefined, 0, 1, 127, 128, 255, 256, 65_536]) {
        const ext = new x509.BasicConstraintsExtension(ca, pathLength, true);
        const parsed = new x509.BasicConstraintsExtension(ext.rawData);
        assert.deepEqual(decodeBasicConstraints(value(ext)), { ca: parsed.ca, pathLength: parsed.pathLength });
      }
    }
  });

  test('extKeyUsage OIDs (RFC 5280 §4.2.1.12)', () => {
    const lists = [[x509.ExtendedKeyUsage.serverAuth], [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth], ['2.5.29.37.0'], ['1.3.6.1.4.1.311.10.3.4', '2.999.1234567']];
    for (const usages of lists) {
      const ext = new x509.ExtendedKeyUsageExtension(usages, false);
      assert.deepEqual(decodeExtKeyUsage(value(ext)), [...new x509.ExtendedKeyUsageExtension(ext.rawData).usages].map(String));
    }
  });

  test('generated certificates: key identifiers chain as @peculiar/x509 reads them', () => {
    const ca = new x509.X509Certificate(caDer[0]!);
    const server = new x509.X509Certificate(serverChain[0]!);
    const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = server.getExtension(x509.AuthorityKeyIdentifierExtension);
    assert.ok(ski && aki);
    assert.equal(aki.keyId, ski.keyId);
    // and the verifier accepted that pair (it skips candidates whose SKI differs from the AKI)
    assert.equal(verifyCertificateChain(serverChain, opts(caDer)).authorized, true);
  });
});

describe('host name matching (RFC 6125 §6.4)', () => {
  const ok = (chain: Uint8Array[], trusted: Uint8Array[], servername: string): boolean => {
    try {
      return verifyCertificateChain(chain, opts(trusted, { servername })).authorized;
    } catch (err) {
      if (err instanceof CertificateError && err.code === 'ERR_DTLS_HOSTNAME_MISMATCH') {
        assert.equal(err.alert, AlertDescription.bad_certificate);
        return false;
      }
      throw err;
    }
  };

  test('generated server certificate: DNS and IP SANs', () => {
    assert.equal(ok(serverChain, caDer, 'localhost'), true);
    assert.equal(ok(serverChain, caDer, 'LocalHost.'), true); // case-insensitive, trailing dot ignored
    assert.equal(ok(serverChain, caDer, 'example.com'), false);
    assert.equal(ok(serverChain, caDer, '127.0.0.1'), true);
    assert.equal(ok(serverChain, caDer, '::1'), true);
    assert.equal(ok(serverChain, caDer, '[::1]'), true);
    assert.equal(ok(serverChain, caDer, '0:0:0:0:0:0:0:1'), true);
    assert.equal(ok(serverChain, caDer, '10.0.0.1'), false);
    assert.equal(ok(serverChain, caDer, '::2'), false);
  });

  test('wildcards: *.example.com matches exactly one left-most label (§6.4.3)', async () => {
    const wild = await issue({ name: 'CN=wild', issuer: root, extensions: leafExtensions({ san: [{ type: 'dns', value: '*.example.com' }] }) });
    assert.equal(ok([wild.der], [root.der], 'a.example.com'), true);
    assert.equal(ok([wild.der], [root.der], 'A.Example.COM'), true);
    assert.equal(ok([wild.der], [root.der], 'a.b.example.com'), false);
    assert.equal(ok([wild.der], [root.der], 'example.com'), false);
    assert.equal(ok([wild.der], [root.der], 'aexample.com'), false);
  });

  test('an IP literal never matches a dNSName; a name never matches an iPAddress', async () => {
    const dnsIp = await issue({ name: 'CN=x', issuer: root, extensions: leafExtensions({ san: [{ type: 'dns', value: '192.0.2.1' }, { type: 'ip', value: '192.0.2.2' }] }) });
    assert.equal(ok([dnsIp.der], [root.der], '192.0.2.1'), false);
    assert.equal(ok([dnsIp.der], [root.der], '192.0.2.2'), true);
  });

  test('CN is used only when there is no subjectAltName (§6.4.4)', async () => {
    const cnOnly = await issue({ name: 'CN=cn.example', issuer: root, extensions: leafExtensions({ san: null }) });
    assert.equal(ok([cnOnly.der], [root.der], 'cn.example'), true);
    assert.equal(ok([cnOnly.der], [root.der], 'other.example'), false);
    const cnAndSan = await issue({ name: 'CN=cn.example', issuer: root, extensions: leafExtensions({ san: [{ type: 'dns', value: 'san.example' }] }) });
    assert.equal(ok([cnAndSan.der], [root.der], 'cn.example'), false);
    assert.equal(ok([cnAndSan.der], [root.der], 'san.example'), true);
  });

  test('servername is not checked for client certificates', () => {
    const r = verifyCertificateChain(clientChain, opts(caDer, { role: 'client', servername: 'example.com' }));
    assert.equal(r.authorized, true);
  });
});

describe('rejectUnauthorized false and checkPeer', () => {
  test('rejectUnauthorized false returns authorized false with the error', async () => {
    const self = await issue({ name: 'CN=localhost', extensions: leafExtensions() });
    const r = verifyCertificateChain([self.der], opts(caDer, { rejectUnauthorized: false, servername: 'localhost' }));
    assert.equal(r.authorized, false);
    assert.ok(r.authorizationError instanceof CertificateError);
    assert.equal(r.authorizationError.code, 'ERR_DTLS_UNKNOWN_CA');
    assert.equal(r.leaf.subject, 'CN=localhost');
    assert.equal(r.chain.length, 1);

    const mismatch = verifyCertificateChain(serverChain, opts(caDer, { rejectUnauthorized: false, servername: 'example.com' }));
    assert.equal(mismatch.authorized, false);
    assert.equal(mismatch.authorizationError?.code, 'ERR_DTLS_HOSTNAME_MISMATCH');

    // the first problem wins: an expired certificate from an unknown CA reports the unknown CA
    const expired = await issue({ name: 'CN=localhost', issuer: root, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY, extensions: leafExtensions() });
    const both = verifyCertificateChain([expired.der], opts(caDer, { rejectUnauthorized: false }));
    assert.equal(both.authorizationError?.code, 'ERR_DTLS_UNKNOWN_CA');
    assert.equal(verifyCertificateChain([expired.der], opts([root.der], { rejectUnauthorized: false })).authorizationError?.code, 'ERR_DTLS_CERT_EXPIRED');
  });

  test('checkPeer sees the leaf and the verified chain', () => {
    let seen: { leaf: PeerCertificate; chain: readonly PeerCertificate[] } | undefined;
    const r = verifyCertificateChain(
      serverChain,
      opts(caDer, {
        checkPeer: (leaf, chain) => {
          seen = { leaf, chain };
        },
      }),
    );
    assert.equal(r.authorized, true);
    assert.equal(seen?.leaf.subject, 'CN=localhost');
    assert.equal(seen?.chain.length, 2);
  });

  test('checkPeer returning or throwing an Error → ERR_DTLS_CERT_REJECTED / bad_certificate', () => {
    const pin = describeCertificate(clientChain[0]!).fingerprint256;
    const pinCheck = (leaf: PeerCertificate): Error | undefined =>
      leaf.fingerprint256 === pin ? undefined : new Error(`fingerprint ${leaf.fingerprint256} is not pinned`);
    const e = expectCertError(() => verifyCertificateChain(serverChain, opts(caDer, { checkPeer: pinCheck })), 'ERR_DTLS_CERT_REJECTED', AlertDescription.bad_certificate);
    assert.ok(e.cause instanceof Error);
    assert.match(e.message, /not pinned/);
    expectCertError(
      () => verifyCertificateChain(serverChain, opts(caDer, { checkPeer: () => { throw new Error('nope'); } })),
      'ERR_DTLS_CERT_REJECTED',
      AlertDescription.bad_certificate,
    );
    const r = verifyCertificateChain(serverChain, opts(caDer, { checkPeer: pinCheck, rejectUnauthorized: false }));
    assert.equal(r.authorized, false);
    assert.equal(r.authorizationError?.code, 'ERR_DTLS_CERT_REJECTED');
  });

  test('checkPeer runs even for untrusted certificates when rejectUnauthorized is false (pinning)', async () => {
    const self = await issue({ name: 'CN=pinned', extensions: leafExtensions() });
    const fp = describeCertificate(self.der).fingerprint256;
    let called = false;
    const r = verifyCertificateChain([self.der], opts([], {
      rejectUnauthorized: false,
      checkPeer: (leaf) => {
        called = true;
        return leaf.fingerprint256 === fp ? undefined : new Error('not pinned');
      },
    }));
    assert.equal(called, true);
    assert.equal(r.authorizationError?.code, 'ERR_DTLS_UNKNOWN_CA');
  });

  test('repeated verification is served from the parse cache', () => {
    const trust = new TrustStore(caDer);
    const o: VerifyOptions = { trust, role: 'server', servername: 'localhost', now: NOW, rejectUnauthorized: true };
    const first = verifyCertificateChain(serverChain, o);
    const second = verifyCertificateChain([new Uint8Array(serverChain[0]!)], o);
    assert.equal(first.leaf, second.leaf); // same parsed object
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) verifyCertificateChain(serverChain, o);
    const perCall = (performance.now() - t0) / 200;
    assert.ok(perCall < 2, `cached verification took ${perCall.toFixed(3)} ms`);
  });
});

describe('credentials', () => {
  test('loadCredentialFiles returns the chain and a PKCS#8 key', () => {
    const c = loadCredentialFiles(join(ecDir, 'server-cert.pem'), join(ecDir, 'server-key.pem'));
    assert.equal(c.certificateChain.length, 1);
    assert.match(c.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(checkKeyMatchesCertificate(c.privateKeyPem, c.certificateChain[0]!), true);
  });

  test('a missing file is named in the message', () => {
    const missing = join(dir, 'does-not-exist.pem');
    assert.throws(
      () => loadCredentialFiles(missing, join(ecDir, 'server-key.pem')),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_FILE_NOT_FOUND' && e.message.includes(missing) && !e.message.includes('\n'),
    );
    assert.throws(
      () => loadCredentialFiles(join(ecDir, 'server-cert.pem'), missing),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_FILE_NOT_FOUND' && e.message.includes(missing),
    );
    assert.throws(
      () => loadCaFile(missing),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_FILE_NOT_FOUND' && e.message.includes(missing),
    );
  });

  test('an unreadable path (a directory) → ERR_DTLS_FILE_UNREADABLE naming it', () => {
    assert.throws(
      () => loadCredentialFiles(ecDir, join(ecDir, 'server-key.pem')),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_FILE_UNREADABLE' && e.message.includes(ecDir),
    );
  });

  test('key mismatch: server key with the client certificate', () => {
    const certFile = join(ecDir, 'client-cert.pem');
    const keyFile = join(ecDir, 'server-key.pem');
    assert.throws(
      () => loadCredentialFiles(certFile, keyFile),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_KEY_MISMATCH' && e.message === `${keyFile} does not match the certificate in ${certFile}`,
    );
    assert.equal(checkKeyMatchesCertificate(readFileSync(keyFile, 'utf8'), clientChain[0]!), false);
    assert.equal(checkKeyMatchesCertificate('not a key', clientChain[0]!), false);
  });

  test('a PEM that is not a private key → ERR_DTLS_BAD_KEY_FILE naming the file', () => {
    const keyFile = join(ecDir, 'ca-cert.pem');
    assert.throws(
      () => loadCredentialFiles(join(ecDir, 'server-cert.pem'), keyFile),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_KEY_FILE' && e.message.includes(keyFile),
    );
    const junk = join(dir, 'junk-key.pem');
    writeFileSync(junk, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    assert.throws(
      () => loadCredentialFiles(join(ecDir, 'server-cert.pem'), junk),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_KEY_FILE' && e.message.includes(junk),
    );
    const enc = join(dir, 'enc-key.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(enc, privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }));
    assert.throws(
      () => loadCredentialFiles(join(ecDir, 'server-cert.pem'), enc),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_KEY_FILE' && /encrypted/.test(e.message),
    );
  });

  test('SEC1 "EC PRIVATE KEY" files are accepted and normalized to PKCS#8', () => {
    const sec1 = join(dir, 'sec1-key.pem');
    const pem = createPrivateKey(readFileSync(join(ecDir, 'server-key.pem'))).export({ type: 'sec1', format: 'pem' });
    writeFileSync(sec1, pem);
    const c = loadCredentialFiles(join(ecDir, 'server-cert.pem'), sec1);
    assert.match(c.privateKeyPem, /BEGIN PRIVATE KEY/);
  });

  test('parsePemCertificates: all blocks in order; none → ERR_DTLS_BAD_CERTIFICATE_FILE', () => {
    const bundle = readFileSync(join(ecDir, 'server-cert.pem'), 'utf8') + 'junk between\n' + readFileSync(join(ecDir, 'ca-cert.pem'), 'utf8');
    const certs = parsePemCertificates(bundle, 'bundle.pem');
    assert.equal(certs.length, 2);
    assert.deepEqual(Buffer.from(certs[0]!), Buffer.from(serverChain[0]!));
    assert.deepEqual(Buffer.from(certs[1]!), Buffer.from(caDer[0]!));
    assert.throws(
      () => parsePemCertificates('hello', 'x.pem'),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_CERTIFICATE_FILE' && e.message === 'x.pem: no PEM certificate found',
    );
    assert.throws(
      () => parsePemCertificates('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', 'y.pem'),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_CERTIFICATE_FILE' && e.message.startsWith('y.pem:'),
    );
  });

  test('loadCaFile reads PEM bundles and single DER certificates', () => {
    const derFile = join(dir, 'ca.der');
    writeFileSync(derFile, caDer[0]!);
    assert.deepEqual(loadCaFile(derFile).map((b) => Buffer.from(b)), [Buffer.from(caDer[0]!)]);
    const keyFile = join(ecDir, 'ca-key.pem');
    assert.throws(() => loadCaFile(keyFile), (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_BAD_CERTIFICATE_FILE' && e.message.includes(keyFile));
  });
});

describe('dtls certs generator', () => {
  function openssl(args: string[]): string {
    return execFileSync('openssl', args, { encoding: 'utf8' });
  }

  test('openssl verifies the server and client certificates (EC and RSA)', () => {
    for (const d of [ecDir, rsaDir]) {
      const out = openssl(['verify', '-CAfile', join(d, 'ca-cert.pem'), join(d, 'server-cert.pem'), join(d, 'client-cert.pem')]);
      assert.match(out, /server-cert\.pem: OK/);
      assert.match(out, /client-cert\.pem: OK/);
      // purpose checks as openssl understands them
      assert.match(openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(d, 'ca-cert.pem'), join(d, 'server-cert.pem')]), /: OK/);
      assert.match(openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(d, 'ca-cert.pem'), join(d, 'client-cert.pem')]), /: OK/);
    }
  });

  test('openssl shows the expected extensions', () => {
    const ca = openssl(['x509', '-noout', '-text', '-in', join(ecDir, 'ca-cert.pem')]);
    assert.match(ca, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(ca, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(ca, /Subject Key Identifier/);
    assert.match(ca, /ecdsa-with-SHA256/);
    const server = openssl(['x509', '-noout', '-text', '-in', join(ecDir, 'server-cert.pem')]);
    assert.match(server, /Subject: CN ?= ?localhost/);
    assert.match(server, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    assert.match(server, /TLS Web Server Authentication/);
    assert.match(server, /Key Usage: critical\s+Digital Signature\s/);
    assert.match(server, /Authority Key Identifier/);
    assert.match(server, /Public-Key: \(256 bit\)/);
    const client = openssl(['x509', '-noout', '-text', '-in', join(ecDir, 'client-cert.pem')]);
    assert.match(client, /Subject: CN ?= ?dtls-client/);
    assert.match(client, /TLS Web Client Authentication/);
    // validity starts an hour in the past
    const notBefore = new X509Certificate(readFileSync(join(ecDir, 'server-cert.pem'))).validFrom;
    const skew = Date.now() - Date.parse(notBefore);
    assert.ok(skew > 0.9 * HOUR && skew < 2 * HOUR, `notBefore skew ${skew}`);
  });

  test('RSA option: RSA-2048, sha256WithRSAEncryption, keyEncipherment on the server certificate', () => {
    const server = openssl(['x509', '-noout', '-text', '-in', join(rsaDir, 'server-cert.pem')]);
    assert.match(server, /Public-Key: \(2048 bit\)/);
    assert.match(server, /sha256WithRSAEncryption/);
    assert.match(server, /Digital Signature, Key Encipherment/);
    const key = createPrivateKey(readFileSync(join(rsaDir, 'server-key.pem')));
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    loadCredentialFiles(join(rsaDir, 'server-cert.pem'), join(rsaDir, 'server-key.pem'));
    loadCredentialFiles(join(rsaDir, 'client-cert.pem'), join(rsaDir, 'client-key.pem'));
  });

  test('private keys are PKCS#8 with mode 0600', () => {
    for (const name of ['ca-key.pem', 'server-key.pem', 'client-key.pem']) {
      const p = join(ecDir, name);
      assert.match(readFileSync(p, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
      if (process.platform !== 'win32') assert.equal(statSync(p).mode & 0o777, 0o600);
    }
  });

  test('serial numbers are random and positive', () => {
    const a = new X509Certificate(readFileSync(join(ecDir, 'server-cert.pem'))).serialNumber;
    const b = new X509Certificate(readFileSync(join(rsaDir, 'server-cert.pem'))).serialNumber;
    assert.notEqual(a, b);
    assert.ok(parseInt(a.slice(0, 2), 16) < 0x80);
  });

  test('refuses to overwrite existing files unless force is set', async () => {
    const target = join(dir, 'overwrite');
    const first = await generateDevCertificates({ dir: target });
    assert.equal(first.files.length, 6);
    const before = readFileSync(join(target, 'server-cert.pem'), 'utf8');
    await assert.rejects(
      generateDevCertificates({ dir: target }),
      (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_FILE_EXISTS' && e.message.includes(join(target, 'ca-cert.pem')),
    );
    assert.equal(readFileSync(join(target, 'server-cert.pem'), 'utf8'), before);
    // a key file loosened by the user is tightened again on overwrite
    chmodSync(join(target, 'server-key.pem'), 0o644);
    await generateDevCertificates({ dir: target, force: true, days: 30 });
    assert.notEqual(readFileSync(join(target, 'server-cert.pem'), 'utf8'), before);
    if (process.platform !== 'win32') assert.equal(statSync(join(target, 'server-key.pem')).mode & 0o777, 0o600);
    const validTo = Date.parse(new X509Certificate(readFileSync(join(target, 'ca-cert.pem'))).validTo);
    assert.ok(Math.abs(validTo - (Date.now() - HOUR + 30 * DAY)) < HOUR);
  });

  test('invalid days → ERR_DTLS_INVALID_OPTION', async () => {
    await assert.rejects(generateDevCertificates({ dir: join(dir, 'bad'), days: 0 }), (e: unknown) => e instanceof ApiMisuseError && e.code === 'ERR_DTLS_INVALID_OPTION');
  });
});
