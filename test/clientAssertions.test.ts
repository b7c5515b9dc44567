/**
 * Apps without a secret: the identity simulator accepts client assertions as Entra does.
 * - Federated identity credential: the real @azure/identity ManagedIdentityCredential asks the Key Vault fake's
 *   managed-identity endpoint for a token for api://AzureADTokenExchange; the fake has the simulator mint it (as
 *   Entra issues it in Azure); the real msal-node sends it as `clientAssertion`; the simulator verifies it.
 * - Certificate: the real msal-node's `clientCertificate` signs the assertion; the simulator checks it with the
 *   certificate registered on the app.
 * Every wrong assertion gets Entra's invalid_client and AADSTS code.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, sign, X509Certificate } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { ServerError } from '@azure/msal-node';
import selfsigned from 'selfsigned';
import { startIdentitySimulator, type IdentitySimulator, type SimulatedClient } from '../local/identitySimulator';
import { startKeyVaultFake, type KeyVaultFake } from '../local/keyVaultFake';
import { claimsOf, msalError, redeemCode, refresh, REDIRECT, tlsFromEnv, type Credential } from './localStandIns';
import { useIdentityEnv } from './support/identityEnv';
import type { AppCredentials } from '../shared/identity/credentials';
import { defaultPropagationRetry, setPropagationRetry } from '../shared/identity/federated';
import { redeemRefreshToken } from '../shared/identity/msal';
import { TokenRequestError } from '../shared/identity/tokenFailure';

/** The service's own tenant: the CPV app and the Function App's managed identity live here. */
const HOME = '7c6b5a49-3827-4161-9504-a3b2c1d0e9f8';
/** A distributor's partner tenant, where the CPV app redeems. */
const PARTNER = '2b3c4d5e-6f70-4819-a2b3-c4d5e6f70819';
const MI_CLIENT_ID = 'a1b2c3d4-e5f6-4718-8293-a4b5c6d7e8f9';
const MI_PRINCIPAL_ID = 'f9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a';

const ficApp: SimulatedClient = { clientId: '0a1b2c3d-4e5f-4607-8819-2a3b4c5d6e7f', redirectUris: [REDIRECT], multiTenant: true };
const secretApp = {
  clientId: '11111111-2222-4333-8444-555555555555',
  clientSecret: 'csp-secret~value',
  redirectUris: [REDIRECT],
  multiTenant: false,
} satisfies SimulatedClient;

interface TestCertificate {
  pem: string;
  privateKey: string;
  sha1: string;
  sha256: string;
}

async function makeCertificate(validity: { notBeforeDate?: Date; notAfterDate?: Date } = {}): Promise<TestCertificate> {
  const made = await selfsigned.generate([{ name: 'commonName', value: 'connect-ms-auth test app' }], { keyType: 'rsa', keySize: 2048, ...validity });
  const der = new X509Certificate(made.cert).raw;
  return {
    pem: made.cert,
    privateKey: made.private,
    sha1: createHash('sha1').update(der).digest('hex'),
    sha256: createHash('sha256').update(der).digest('hex'),
  };
}

/** A certificate assertion made by hand, to send what msal-node never would. */
function handmadeAssertion(cert: TestCertificate, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = Buffer.from(
    JSON.stringify({ alg: 'RS256', typ: 'JWT', 'x5t#S256': Buffer.from(cert.sha256, 'hex').toString('base64url'), ...header }),
  ).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${h}.${p}`), createPrivateKey(cert.privateKey)).toString('base64url');
  return `${h}.${p}.${signature}`;
}

async function postToken(tenant: string, form: Record<string, string>) {
  const res = await fetch(`${sim.authority(tenant)}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

let restoreIdentityEnv = (): void => undefined;
let sim: IdentitySimulator;
let fake: KeyVaultFake;
let cert: TestCertificate;
let otherCert: TestCertificate;
let expiredCert: TestCertificate;
let certApp: SimulatedClient;
let expiredCertApp: SimulatedClient;

beforeAll(async () => {
  [cert, otherCert, expiredCert] = await Promise.all([
    makeCertificate(),
    makeCertificate(),
    makeCertificate({ notBeforeDate: new Date(Date.now() - 2 * 365 * 864e5), notAfterDate: new Date(Date.now() - 365 * 864e5) }),
  ]);
  certApp = { clientId: '3c4d5e6f-7081-4923-a4b5-c6d7e8f90a1b', redirectUris: [REDIRECT], multiTenant: false, certificates: [cert.pem] };
  expiredCertApp = {
    clientId: '4d5e6f70-8192-4a34-b5c6-d7e8f90a1b2c',
    redirectUris: [REDIRECT],
    multiTenant: false,
    certificates: [expiredCert.pem],
  };
  sim = await startIdentitySimulator({
    tls: tlsFromEnv(),
    clients: [ficApp, secretApp, certApp, expiredCertApp],
    consentedTenants: [{ clientId: ficApp.clientId, tenant: PARTNER }],
  });
  // The credential names the simulator's issuer, whose port is known only now.
  sim.registerClient({
    ...ficApp,
    federatedCredentials: [{ issuer: sim.issuer(HOME), subject: MI_PRINCIPAL_ID, audience: 'api://AzureADTokenExchange' }],
  });
  fake = await startKeyVaultFake({
    tls: tlsFromEnv(),
    mintTokenExchangeToken: (r) =>
      sim.mintManagedIdentityToken({ tenant: HOME, principalId: MI_PRINCIPAL_ID, clientId: r.clientId ?? MI_CLIENT_ID, audience: r.resource }),
  });
  // The REAL credential finds the fake's managed-identity endpoint the way it finds App Service's.
  restoreIdentityEnv = useIdentityEnv(fake.identityEnv);
});

afterAll(async () => {
  await Promise.all([sim.close(), fake.close()]);
  restoreIdentityEnv();
});
beforeEach(() => {
  sim.reset();
  fake.faults.clear();
});

/** What the service's federated path does: a callback that returns a managed-identity token for the exchange audience. */
function federated(credential = new ManagedIdentityCredential({ clientId: MI_CLIENT_ID })): Credential {
  return { clientAssertion: async () => (await credential.getToken('api://AzureADTokenExchange/.default')).token };
}

/** An assertion the simulator minted, as a string (msal-node takes both forms). */
function minted(p: { tenant?: string; principalId?: string; audience?: string; lifetimeSeconds?: number } = {}): Credential {
  return {
    clientAssertion: sim.mintManagedIdentityToken({
      tenant: p.tenant ?? HOME,
      principalId: p.principalId ?? MI_PRINCIPAL_ID,
      clientId: MI_CLIENT_ID,
      ...(p.audience ? { audience: p.audience } : {}),
      ...(p.lifetimeSeconds !== undefined ? { lifetimeSeconds: p.lifetimeSeconds } : {}),
    }).accessToken,
  };
}

describe("federated identity credential: the managed identity is the CPV app's credential", () => {
  it("redeems with the real ManagedIdentityCredential's token, fetched from the fake's endpoint and minted by the simulator", async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    const { result, refreshToken } = await refresh(sim, rt, ficApp, PARTNER, federated());
    expect(result.tenantId).toBe(PARTNER);
    expect(refreshToken).not.toBe(rt);
    // appidacr 2: the app proved itself with an assertion, not a secret.
    expect(claimsOf(result.accessToken)).toMatchObject({ appid: ficApp.clientId, appidacr: '2' });
    expect(sim.stats.clientAuthentications).toEqual({ secret: 0, certificate: 0, federated: 1 });
    expect(fake.stats.requests.msi).toBe(1);
    expect(sim.stats.managedIdentityTokensMinted).toBe(1);
  });

  it('redeems an authorization code the same way, and takes the assertion as a string', async () => {
    const { result } = await redeemCode(sim, { client: ficApp, tenant: PARTNER, credential: minted() });
    expect(result.tenantId).toBe(PARTNER);
    expect(sim.stats.clientAuthentications.federated).toBe(1);
  });

  it("keeps the managed-identity endpoint's own tokens for other resources", async () => {
    const token = await new ManagedIdentityCredential({ clientId: MI_CLIENT_ID }).getToken('https://vault.azure.net/.default');
    expect(token.token.split('.')).toHaveLength(2); // the fake's HMAC token, not a JWT
    expect(sim.stats.managedIdentityTokensMinted).toBe(0);
  });

  const refusals = [
    {
      name: 'an assertion for another audience',
      credential: () => minted({ audience: 'api://SomethingElse' }),
      errorNo: 700212,
      text: "presented assertion audience 'api://SomethingElse'",
    },
    {
      name: 'another identity (subject)',
      credential: () => minted({ principalId: randomUUID() }),
      errorNo: 700213,
      text: 'presented assertion subject',
    },
    {
      name: 'an identity of another tenant (issuer)',
      credential: () => minted({ tenant: PARTNER }),
      errorNo: 700211,
      text: 'presented assertion issuer',
    },
    { name: 'an expired assertion', credential: () => minted({ lifetimeSeconds: -60 }), errorNo: 700024, text: 'not within its valid time range' },
  ];
  it.each(refusals)('refuses $name with invalid_client AADSTS$errorNo', async ({ credential, errorNo, text }) => {
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    const err = await msalError(refresh(sim, rt, ficApp, PARTNER, credential()));
    expect(err).toBeInstanceOf(ServerError);
    expect(err).toMatchObject({ errorCode: 'invalid_client', errorNo });
    expect(err.errorMessage).toContain(text);
  });

  it('refuses a forged assertion (right claims, another key) with AADSTS700027', async () => {
    const real = minted().clientAssertion as string;
    const [header, payload] = real.split('.');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = `${header}.${payload}.${sign('sha256', Buffer.from(`${header}.${payload}`), privateKey).toString('base64url')}`;
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    expect(await msalError(refresh(sim, rt, ficApp, PARTNER, { clientAssertion: forged }))).toMatchObject({
      errorCode: 'invalid_client',
      errorNo: 700027,
    });
  });

  it("refuses an assertion for an app without federated credentials with AADSTS70021, in Entra's error body", async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: secretApp.clientId, tenant: PARTNER });
    const res = await postToken(PARTNER, {
      grant_type: 'refresh_token',
      refresh_token: rt,
      client_id: secretApp.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: minted().clientAssertion as string,
    });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({
      error: 'invalid_client',
      error_codes: [70021],
      error_description: expect.stringMatching(
        /^AADSTS70021: No matching federated identity record found for presented assertion\. Assertion Issuer: /,
      ),
    });
  });

  it('refuses a secret for an app that has none, a wrong assertion type, and two credentials at once', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    expect(await msalError(refresh(sim, rt, ficApp, PARTNER, { clientSecret: 'guess' }))).toMatchObject({
      errorCode: 'invalid_client',
      errorNo: 7000215,
    });
    const assertion = minted().clientAssertion as string;
    const base = { grant_type: 'refresh_token', refresh_token: rt, client_id: ficApp.clientId, client_assertion: assertion };
    expect(
      (await postToken(PARTNER, { ...base, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' })).body,
    ).toMatchObject({ error: 'invalid_request' });
    expect(
      (await postToken(PARTNER, { ...base, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_secret: 'x' }))
        .body,
    ).toMatchObject({ error: 'invalid_request' });
  });

  it('answers AADSTS700213 for every call under the noMatchingFederatedCredential switch', async () => {
    sim.faults.apply({ kind: 'invalidClient', clientId: ficApp.clientId, reason: 'noMatchingFederatedCredential' });
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    const err = await msalError(refresh(sim, rt, ficApp, PARTNER, federated()));
    expect(err).toMatchObject({ errorCode: 'invalid_client', errorNo: 700213 });
    expect(err.errorMessage).toContain(`'${MI_PRINCIPAL_ID}'`);
  });
});

describe('a federated credential that is still propagating (AADSTS70021, Microsoft: retry)', () => {
  const app = (assertion: () => Promise<string>): AppCredentials => ({
    authorityHost: sim.url,
    tenantId: PARTNER,
    clientId: ficApp.clientId,
    credential: { kind: 'assertion', assertion },
  });
  const assertion = async () => minted().clientAssertion as string;
  afterEach(() => setPropagationRetry());

  it('the simulator answers 70021 for the next calls under the switch, then accepts the same credential', async () => {
    sim.faults.apply({ kind: 'federatedCredentialPropagating', clientId: ficApp.clientId, count: 2 });
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    for (let i = 0; i < 2; i++) expect(await msalError(refresh(sim, rt, ficApp, PARTNER, minted()))).toMatchObject({ errorNo: 70021 });
    await refresh(sim, rt, ficApp, PARTNER, minted());
    // Certificates and secrets are not federated credentials: the switch leaves them alone.
    sim.faults.apply({ kind: 'federatedCredentialPropagating', clientId: secretApp.clientId, count: 5 });
    await refresh(sim, sim.issueRefreshTokenFor({ clientId: secretApp.clientId, tenant: PARTNER }), secretApp, PARTNER);
  });

  it('the service retries 70021 with backoff within its window and gets the token when the credential arrives', async () => {
    const waits: number[] = [];
    setPropagationRetry({ windowMs: 60_000, backoff: { baseMs: 2_000, maxMs: 15_000 }, sleep: async (ms) => void waits.push(ms) });
    sim.faults.apply({ kind: 'federatedCredentialPropagating', clientId: ficApp.clientId, count: 3 });
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    const grant = await redeemRefreshToken(app(assertion), rt);
    expect(grant.refreshToken).not.toBe(rt);
    expect(sim.stats.tokenErrors).toEqual({ invalid_client: 3 });
    // Backoff of the production window (jittered 50–100 %): 2 s, 4 s, 8 s.
    expect(waits).toHaveLength(3);
    waits.forEach((w, i) => expect(w).toBeGreaterThanOrEqual(1_000 * 2 ** i));
  });

  it('gives up after the window (60 s in production) as invalid-client, for the caller to alert; nothing else is retried', async () => {
    // The production window on a clock that the waits move forward.
    const waits: number[] = [];
    let clock = 0;
    setPropagationRetry({ ...defaultPropagationRetry, now: () => clock, sleep: async (ms) => void (waits.push(ms), (clock += ms)) });
    sim.faults.apply({ kind: 'federatedCredentialPropagating', clientId: ficApp.clientId, count: 1_000 });
    const rt = sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER });
    const err = await redeemRefreshToken(app(assertion), rt).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenRequestError);
    expect((err as TokenRequestError).failure).toMatchObject({ class: 'invalid-client', aadsts: 70021 });
    expect(clock).toBeLessThan(defaultPropagationRetry.windowMs);
    expect(waits.length).toBeGreaterThanOrEqual(4);
    expect(sim.stats.tokenCalls.refresh_token).toBe(waits.length + 1);
    // Another invalid_client (a wrong subject) is not a propagation: one call, no wait.
    sim.reset();
    sim.faults.apply({ kind: 'invalidClient', clientId: ficApp.clientId, reason: 'noMatchingFederatedCredential' });
    await expect(redeemRefreshToken(app(assertion), sim.issueRefreshTokenFor({ clientId: ficApp.clientId, tenant: PARTNER }))).rejects.toMatchObject({
      failure: { aadsts: 700213 },
    });
    expect(sim.stats.tokenCalls.refresh_token).toBe(1);
  });
});

describe('certificate credential (msal-node clientCertificate)', () => {
  it('accepts the SHA-256 thumbprint form (PS256, x5t#S256) and the SHA-1 form (RS256, x5t)', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: certApp.clientId, tenant: PARTNER });
    const modern = await refresh(sim, rt, certApp, PARTNER, { clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKey } });
    expect(claimsOf(modern.result.accessToken)).toMatchObject({ appidacr: '2' });
    await refresh(sim, modern.refreshToken, certApp, PARTNER, { clientCertificate: { thumbprint: cert.sha1, privateKey: cert.privateKey } });
    expect(sim.stats.clientAuthentications).toEqual({ secret: 0, certificate: 2, federated: 0 });
    // And at code redemption.
    await redeemCode(sim, {
      client: certApp,
      tenant: PARTNER,
      credential: { clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKey } },
    });
  });

  it('refuses a certificate not registered on the app, naming its thumbprint (AADSTS700027)', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: certApp.clientId, tenant: PARTNER });
    const err = await msalError(
      refresh(sim, rt, certApp, PARTNER, { clientCertificate: { thumbprintSha256: otherCert.sha256, privateKey: otherCert.privateKey } }),
    );
    expect(err).toMatchObject({ errorCode: 'invalid_client', errorNo: 700027 });
    expect(err.errorMessage).toContain(`The key was not found., Thumbprint of key used by client: '${otherCert.sha256.toUpperCase()}'`);
  });

  it('refuses a registered certificate past its validity (AADSTS700027, the key used is expired)', async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: expiredCertApp.clientId, tenant: PARTNER });
    const err = await msalError(
      refresh(sim, rt, expiredCertApp, PARTNER, { clientCertificate: { thumbprintSha256: expiredCert.sha256, privateKey: expiredCert.privateKey } }),
    );
    expect(err).toMatchObject({ errorCode: 'invalid_client', errorNo: 700027 });
    expect(err.errorMessage).toContain('The key used is expired.');
  });

  it("refuses the thumbprint of a registered certificate with another key's signature", async () => {
    const rt = sim.issueRefreshTokenFor({ clientId: certApp.clientId, tenant: PARTNER });
    const err = await msalError(
      refresh(sim, rt, certApp, PARTNER, { clientCertificate: { thumbprintSha256: cert.sha256, privateKey: otherCert.privateKey } }),
    );
    expect(err).toMatchObject({ errorCode: 'invalid_client', errorNo: 700027 });
    expect(err.errorMessage).toContain('did not match the expected signature value');
  });

  it('checks aud (the token endpoint), exp and iss = sub = client id', async () => {
    const now = Math.floor(Date.now() / 1000);
    const endpoint = `${sim.authority(PARTNER)}/oauth2/v2.0/token`;
    const good = { aud: endpoint, iss: certApp.clientId, sub: certApp.clientId, jti: randomUUID(), nbf: now, exp: now + 600 };
    const rt = sim.issueRefreshTokenFor({ clientId: certApp.clientId, tenant: PARTNER });
    const send = (claims: Record<string, unknown>) =>
      postToken(PARTNER, {
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: certApp.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: handmadeAssertion(cert, claims),
      });
    expect((await send(good)).status).toBe(200);
    const cases: [Record<string, unknown>, number][] = [
      [{ ...good, aud: `${sim.authority(HOME)}/oauth2/v2.0/token` }, 700023],
      [{ ...good, exp: now - 60 }, 700024],
      [{ ...good, nbf: now + 3600, exp: now + 4000 }, 700024],
      [{ ...good, iss: secretApp.clientId }, 700021],
      [{ ...good, sub: secretApp.clientId }, 700021],
    ];
    for (const [claims, errorNo] of cases) {
      const res = await send(claims);
      expect({ status: res.status, error: res.body.error, codes: res.body.error_codes }).toEqual({
        status: 401,
        error: 'invalid_client',
        codes: [errorNo],
      });
    }
  });

  it('answers AADSTS700027 for every call under the certificateExpired switch', async () => {
    sim.faults.apply({ kind: 'invalidClient', clientId: certApp.clientId, reason: 'certificateExpired' });
    const rt = sim.issueRefreshTokenFor({ clientId: certApp.clientId, tenant: PARTNER });
    const err = await msalError(
      refresh(sim, rt, certApp, PARTNER, { clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKey } }),
    );
    expect(err).toMatchObject({ errorCode: 'invalid_client', errorNo: 700027 });
    expect(err.errorMessage).toContain(cert.sha256.toUpperCase());
  });
});
