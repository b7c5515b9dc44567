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

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** Reads a certificate's secret (PEM: private key and certificate chain, in any order). */
export function readCertificateSecret(value: string): CertificateCredential | { problem: CertificateProblem } {
  const blocks = [...value.matchAll(pemBlock)].map((m) => ({ label: m[1] ?? '', pem: m[0] }));
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
