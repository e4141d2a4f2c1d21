/**
 * The sans-IO peers the in-memory bench cases share: a client ConnectionConfig resolved as connect() resolves its
 * options, and a server Endpoint resolved as createServer() does, with caps raised (every bench peer is one
 * address). Both use the bench's certificates, suite and group.
 */
import { Endpoint } from '../../src/core/endpoint.js';
import type { ConnectionConfig } from '../../src/core/config.js';
import { connectionConfig, makeVerifier, resolveCommon } from '../../src/api/options.js';
import { SUITE, type PeerParams } from './peers.js';
import { clientGroups } from './openssl.js';

export function clientConfigFor(p: PeerParams): ConnectionConfig {
  const cc = resolveCommon({
    ca: p.certs.ca,
    groups: clientGroups(p.group),
    ciphers: [SUITE],
    ...(p.clientCert ? { cert: p.certs.clientCert, key: p.certs.clientKey } : {}),
  });
  return connectionConfig(cc.base, { role: 'client', servername: 'localhost', requestClientCertificate: false, requireClientCertificate: false, verifyPeer: makeVerifier(cc) });
}

export function serverEndpointFor(p: PeerParams): Endpoint {
  const sc = resolveCommon({ cert: p.certs.serverCert, key: p.certs.serverKey, ca: p.certs.ca, groups: [p.group], ciphers: [SUITE] });
  const serverConfig = connectionConfig(sc.base, {
    role: 'server',
    servername: undefined,
    requestClientCertificate: p.clientCert,
    requireClientCertificate: p.clientCert,
    verifyPeer: makeVerifier(sc),
  });
  return new Endpoint(() => serverConfig, sc.crypto, {
    maxConnections: 10_000_000,
    maxConnectionsPerAddress: 10_000_000,
    maxHandshaking: 10_000_000,
    cookieLifetimeMs: 60_000,
    cookies: true,
  });
}
