/**
 * Client authentication with a JWT assertion (RFC 7523 `private_key_jwt`) instead of a secret, the two ways Entra
 * accepts it:
 * - a certificate registered on the app: the header names it by thumbprint (`x5t#S256` or `x5t`), `iss` = `sub`
 *   = the client id, `aud` = the token endpoint, signed with the certificate's private key (what msal-node's
 *   `clientCertificate` sends);
 * - a federated identity credential: the assertion is a token of another issuer (here: a managed-identity token
 *   the simulator minted itself), matched on issuer, audience and subject, and verified with that issuer's keys.
 * Every refusal is Entra's `invalid_client` with its AADSTS code (entraErrors.ts).
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { entraErrors, type EntraError } from './entraErrors';
import { ASSERTION_ALGORITHMS, audiences, decodeJwt, numberClaim, signatureValid, stringClaim, type DecodedJwt } from './jwt';
import type { ClientAuthMethod } from './claims';
import type { SigningKey } from './signing';
import type { FederatedIdentityCredential, SimulatedClient } from './types';

/** The audience of a managed-identity token meant as a federated credential. */
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
/** Clock skew allowed on `nbf` (the assertion's issuer may run a little ahead). */
const NBF_SKEW_SECONDS = 300;

export interface AssertionContext {
  /** https://localhost:PORT: federated assertions of issuers under it are verified with the simulator's own key. */
  baseUrl: string;
  signingKey: SigningKey;
  /** The addresses this request may name as `aud`: the token endpoint it was sent to (v2, and its v1 twin). */
  tokenEndpoints: string[];
  /** Real time in ms (JWT times are real time). */
  now: number;
}

export type AssertionResult = { ok: true; method: Exclude<ClientAuthMethod, 'secret'> } | { ok: false; error: EntraError };

export function verifyClientAssertion(client: SimulatedClient, assertion: string, ctx: AssertionContext): AssertionResult {
  const jwt = decodeJwt(assertion);
  if (!jwt) return fail(entraErrors.assertionMalformed());
  return namesCertificate(jwt) ? verifyCertificateAssertion(client, jwt, ctx) : verifyFederatedAssertion(client, jwt, ctx);
}

/** A certificate assertion names its key by thumbprint; anything else is presented as a federated credential. */
function namesCertificate(jwt: DecodedJwt): boolean {
  return typeof jwt.header['x5t#S256'] === 'string' || typeof jwt.header.x5t === 'string';
}

export function isCertificateAssertion(assertion: string): boolean {
  const jwt = decodeJwt(assertion);
  return jwt !== undefined && namesCertificate(jwt);
}

// ---------------------------------------------------------------- certificates

interface RegisteredCertificate {
  publicKey: KeyObject;
  sha1: Buffer;
  sha256: Buffer;
  validFrom: number;
  validTo: number;
}

function registeredCertificates(client: SimulatedClient): RegisteredCertificate[] {
  return (client.certificates ?? []).map((pem) => {
    const cert = new X509Certificate(pem);
    return {
      publicKey: cert.publicKey,
      sha1: createHash('sha1').update(cert.raw).digest(),
      sha256: createHash('sha256').update(cert.raw).digest(),
      validFrom: Date.parse(cert.validFrom),
      validTo: Date.parse(cert.validTo),
    };
  });
}

function verifyCertificateAssertion(client: SimulatedClient, jwt: DecodedJwt, ctx: AssertionContext): AssertionResult {
  const p = jwt.payload;
  // MUST: a certificate assertion speaks for the client itself (RFC 7523 §3: iss and sub are the client id).
  if (!sameId(stringClaim(p, 'iss'), client.clientId) || !sameId(stringClaim(p, 'sub'), client.clientId))
    return fail(entraErrors.assertionAppIdMismatch());

  const s256 = jwt.header['x5t#S256'];
  const thumbprint = typeof s256 === 'string' ? Buffer.from(s256, 'base64url') : Buffer.from(String(jwt.header.x5t), 'base64url');
  const thumbprintHex = thumbprint.toString('hex').toUpperCase();
  const cert = registeredCertificates(client).find((c) => (typeof s256 === 'string' ? c.sha256 : c.sha1).equals(thumbprint));
  if (!cert) return fail(entraErrors.certificateNotRegistered(thumbprintHex, client.clientId));
  if (ctx.now > cert.validTo || ctx.now < cert.validFrom) return fail(entraErrors.certificateExpired(thumbprintHex, cert.validFrom, cert.validTo));
  if (!ASSERTION_ALGORITHMS.has(String(jwt.header.alg)) || !signatureValid(jwt, cert.publicKey))
    return fail(entraErrors.assertionSignatureInvalid(thumbprintHex));

  // MUST: the assertion is for this token endpoint, so one captured elsewhere cannot be replayed here.
  const endpoints = ctx.tokenEndpoints.map((e) => e.toLowerCase());
  if (!audiences(p).some((a) => endpoints.includes(a.toLowerCase()))) return fail(entraErrors.assertionAudienceMismatch());
  const time = timeRangeError(p, ctx.now);
  if (time) return fail(time);
  return { ok: true, method: 'certificate' };
}

// ---------------------------------------------------------------- federated identity credentials

function verifyFederatedAssertion(client: SimulatedClient, jwt: DecodedJwt, ctx: AssertionContext): AssertionResult {
  const p = jwt.payload;
  const iss = stringClaim(p, 'iss') ?? '';
  const sub = stringClaim(p, 'sub') ?? '';
  const auds = audiences(p);
  const credentials = client.federatedCredentials ?? [];
  if (!credentials.length) return fail(entraErrors.noFederatedCredential(iss, sub, auds.join(', ')));

  // Entra finds the app's credentials for the presented issuer first, then needs that issuer's keys.
  const ofIssuer = credentials.filter((c) => c.issuer === iss);
  if (!ofIssuer.length) return fail(entraErrors.noFederatedCredentialForIssuer(iss));
  if (!isOwnIssuer(iss, ctx.baseUrl)) return fail(entraErrors.federatedIssuerUnreachable(iss));
  if (jwt.header.kid !== ctx.signingKey.kid || jwt.header.alg !== 'RS256' || !signatureValid(jwt, createPublicKey(ctx.signingKey.privateKey))) {
    return fail(entraErrors.federatedSignatureInvalid());
  }
  const time = timeRangeError(p, ctx.now);
  if (time) return fail(time);

  // Matching is exact and case-sensitive, as Entra's has been since 2024.
  const ofAudience = ofIssuer.filter((c) => auds.includes(audienceOf(c)));
  if (!ofAudience.length) return fail(entraErrors.noFederatedCredentialForAudience(auds.join(', ')));
  if (!ofAudience.some((c) => c.subject === sub)) return fail(entraErrors.noFederatedCredentialForSubject(sub));
  return { ok: true, method: 'federated' };
}

function audienceOf(c: FederatedIdentityCredential): string {
  return c.audience ?? TOKEN_EXCHANGE_AUDIENCE;
}

/** `https://localhost:PORT/{tenant}/v2.0`: tokens the simulator itself issued. */
function isOwnIssuer(iss: string, baseUrl: string): boolean {
  return iss.startsWith(`${baseUrl}/`) && iss.endsWith('/v2.0');
}

// ---------------------------------------------------------------- shared checks

/** AADSTS700024 when `exp` is missing or past, or `nbf` lies in the future. */
function timeRangeError(p: Record<string, unknown>, nowMs: number): EntraError | undefined {
  const now = nowMs / 1000;
  const exp = numberClaim(p, 'exp');
  const nbf = numberClaim(p, 'nbf');
  if (exp === undefined || now >= exp || (nbf !== undefined && nbf > now + NBF_SKEW_SECONDS))
    return entraErrors.assertionOutsideValidity(nowMs, nbf, exp);
  return undefined;
}

/** The `sub` of an assertion, for errors that name it (an unreadable assertion names nothing). */
export function assertionSubject(assertion: string | null): string {
  return (assertion && decodeJwt(assertion) && stringClaim(decodeJwt(assertion)!.payload, 'sub')) || '';
}

/** The thumbprint (hex) a certificate assertion names, for errors that name it. */
export function assertionThumbprint(assertion: string | null): string {
  const header = assertion ? decodeJwt(assertion)?.header : undefined;
  const t = header?.['x5t#S256'] ?? header?.x5t;
  return typeof t === 'string' ? Buffer.from(t, 'base64url').toString('hex').toUpperCase() : '';
}

function sameId(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function fail(error: EntraError): AssertionResult {
  return { ok: false, error };
}
