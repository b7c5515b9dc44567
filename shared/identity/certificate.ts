/**
 * A CSP app's certificate credential, from the secret Key Vault keeps for a certificate: the
 * private key and the certificate (chain) in PEM. What msal-node's `clientCertificate` needs is
 * the key (PKCS#8) and the certificate's SHA-256 thumbprint; the expiry is the certificate's own.
 *
 * PEM only: Node's crypto has no PKCS#12 reader (a PFX can be handed to TLS, never opened), so a
 * certificate whose policy stores it as PKCS#12 is refused with a message that says how to fix it.
 * MUST: no message here ever quotes the secret (it holds the private key).
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** What msal-node signs the client assertion with. */
export interface ClientCertificate {
  /** SHA-256 of the DER certificate, hex: msal-node sends it as `x5t#S256`. */
  thumbprintSha256: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as msal-node requires. */
  privateKey: string;
}

export interface CertificateCredential extends ClientCertificate {
  notBefore: Date;
  /** The certificate's `notAfter`: Entra refuses it after this (AADSTS700027). */
  notAfter: Date;
}

/** Why a certificate's secret cannot be used, in words an operator acts on. */
export type CertificateProblem =
  | 'not PEM (Key Vault stores this certificate as PKCS#12: set its policy content type to application/x-pem-file)'
  | 'no private key in it (import the certificate with its private key, exportable)'
  | 'an encrypted private key (import it without a password)'
  | 'not an RSA key (Entra certificate credentials are RSA)'
  | 'no certificate in it'
  | 'no certificate that matches its private key';

const beginLine = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const endLine = /^-----END ([A-Z0-9 ]+)-----$/;

/**
 * The PEM blocks of a text (RFC 7468: `-----BEGIN label-----` … `-----END label-----`, each on a
 * line of its own), in one pass over its lines: work grows with the text, never with the number
 * of unmatched BEGIN lines (a backtracking pattern took seconds on 20,000 of them, on every
 * status page). A BEGIN inside an open block starts the block again; an END without its BEGIN is
 * ignored. `onLine` counts the lines read (tests prove the pass is linear with it).
 */
export function pemBlocks(text: string, onLine: () => void = () => undefined): { label: string; pem: string }[] {
  const blocks: { label: string; pem: string }[] = [];
  let open: { label: string; lines: string[] } | undefined;
  for (const raw of text.split('\n')) {
    onLine();
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const begin = beginLine.exec(line);
    if (begin) {
      open = { label: begin[1] ?? '', lines: [line] };
      continue;
    }
    if (!open) continue;
    open.lines.push(line);
    if (endLine.exec(line)?.[1] === open.label) {
      blocks.push({ label: open.label, pem: `${open.lines.join('\n')}\n` });
      open = undefined;
    }
  }
  return blocks;
}

/** Reads a certificate's secret (PEM: private key and certificate chain, in any order). */
export function readCertificateSecret(value: string): CertificateCredential | { problem: CertificateProblem } {
  const blocks = pemBlocks(value);
  if (blocks.length === 0)
    return { problem: 'not PEM (Key Vault stores this certificate as PKCS#12: set its policy content type to application/x-pem-file)' };
  const keyBlock = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (!keyBlock) return { problem: 'no private key in it (import the certificate with its private key, exportable)' };
  if (keyBlock.label === 'ENCRYPTED PRIVATE KEY') return { problem: 'an encrypted private key (import it without a password)' };
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBlock.pem);
  } catch {
    // An encrypted traditional key (Proc-Type: 4,ENCRYPTED) fails here too; the error text is not kept.
    return { problem: 'an encrypted private key (import it without a password)' };
  }
  if (key.asymmetricKeyType !== 'rsa') return { problem: 'not an RSA key (Entra certificate credentials are RSA)' };
  const certificates = blocks.filter((b) => b.label === 'CERTIFICATE').flatMap((b) => parseCertificate(b.pem));
  if (certificates.length === 0) return { problem: 'no certificate in it' };
  // The chain may hold issuers too: the leaf is the one the private key belongs to.
  const leaf = certificates.find((c) => c.checkPrivateKey(key));
  if (!leaf) return { problem: 'no certificate that matches its private key' };
  return {
    thumbprintSha256: createHash('sha256').update(leaf.raw).digest('hex'),
    privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

function parseCertificate(pem: string): X509Certificate[] {
  try {
    return [new X509Certificate(pem)];
  } catch {
    return [];
  }
}
