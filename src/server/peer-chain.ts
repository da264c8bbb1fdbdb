import type { FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';

/**
 * The client certificate chain as presented on the TLS connection (DER, leaf first), whether or not the TLS
 * layer could verify it; features that validate chains against their own anchors (SZTP) start here.
 */
export function presentedChain(request: FastifyRequest): Uint8Array[] {
  return socketChain(request.raw.socket);
}

/** The client certificate chain presented on a socket (DER, leaf first); empty without TLS or a certificate. */
export function socketChain(s: object): Uint8Array[] {
  const socket = s as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return [];
  const out: Uint8Array[] = [];
  let cert = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  // A self-signed root is its own issuer; `seen` stops the walk there.
  while (cert?.raw !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(new Uint8Array(cert.raw));
    cert = cert.issuerCertificate;
  }
  return out;
}

/** The presented chain only when the TLS layer verified it against the server's client CAs, else empty. */
export function verifiedChain(request: FastifyRequest): Uint8Array[] {
  return (request.raw.socket as Partial<TLSSocket>).authorized === true ? presentedChain(request) : [];
}
