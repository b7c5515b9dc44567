/**
 * The Partner Center stand-in answers `GET /v1/profiles/organization` as Partner Center does, for tokens the
 * identity simulator issued through a real code or refresh redemption (msal-node): the organization profile for
 * an admin agent (member or guest) who signed in with MFA; 401 + 900421 without the MFA claim; 403 for an
 * account without a Partner Center role; 401 for a token it does not accept; and the faults rotation must survive.
 * Plain fetch, as the service's own call is.
 */
import { ServerError } from '@azure/msal-node';
import { startIdentitySimulator, type AccountKind, type IdentitySimulator, type SimulatedClient } from '../local/identitySimulator';
import { startPartnerCenterStandIn, type PartnerCenterStandIn } from '../local/partnerCenterStandIn';
import { claimsOf, msalError, redeemCode, refresh, REDIRECT, tlsFromEnv } from './localStandIns';

const TENANT = '3f1a7c2e-9b4d-4e6f-8a1b-2c3d4e5f6a7b';
const OTHER_TENANT = '9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4';
const csp = {
  clientId: '11111111-2222-4333-8444-555555555555',
  clientSecret: 'csp-secret~value',
  redirectUris: [REDIRECT],
  multiTenant: false,
} satisfies SimulatedClient;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sim: IdentitySimulator;
let pc: PartnerCenterStandIn;

beforeAll(async () => {
  sim = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp] });
  // The keys come the way Partner Center gets Entra's: fetched from the published JWKS over HTTPS.
  pc = await startPartnerCenterStandIn({ tls: tlsFromEnv(), jwksUrl: sim.jwksUrl, companyNames: { [TENANT]: 'Contoso Distribution GmbH' } });
});
afterAll(() => Promise.all([sim.close(), pc.close()]));
beforeEach(() => {
  sim.reset();
  pc.reset();
});

async function organization(
  accessToken: string | undefined,
  headers: Record<string, string> = {},
  path = '/v1/profiles/organization',
  method = 'GET',
) {
  const res = await fetch(`${pc.url}${path}`, {
    method,
    headers: { Accept: 'application/json', ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}), ...headers },
  });
  return { status: res.status, statusText: res.statusText, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** A Partner Center access token from a real sign-in and code redemption. */
async function signedIn(choices: { account?: AccountKind; withoutMfa?: boolean } = {}, tenant = TENANT) {
  return redeemCode(sim, { client: csp, tenant, choices });
}

describe('GET /v1/profiles/organization', () => {
  it("answers an admin agent who signed in with MFA with the partner's organization profile", async () => {
    const { result } = await signedIn();
    const correlationId = 'a1b2c3d4-0000-4000-8000-000000000001';
    const res = await organization(result.accessToken, { 'MS-CorrelationId': correlationId });
    expect(res.status).toBe(200);
    expect(res.headers.get('ms-correlationid')).toBe(correlationId);
    expect(res.headers.get('ms-requestid')).toMatch(GUID);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(GUID),
      companyName: 'Contoso Distribution GmbH',
      tenantId: TENANT,
      profileType: 'organization_profile',
      domain: `${TENANT.slice(0, 8)}.example`,
      defaultAddress: expect.objectContaining({ country: expect.any(String) }),
      attributes: { etag: expect.any(String), objectType: 'OrganizationProfile' },
    });
    expect(pc.stats.byOutcome.ok).toBe(1);
    expect(pc.calls).toEqual([
      expect.objectContaining({ outcome: 'ok', status: 200, tenantId: TENANT, objectId: sim.accountFor(TENANT).oid, correlationId }),
    ]);
  });

  it('accepts the token of a rotation (refresh redemption) too, and names other partners by default or as configured', async () => {
    const first = await signedIn({}, OTHER_TENANT);
    const rotated = await refresh(sim, first.refreshToken, csp, OTHER_TENANT);
    const res = await organization(rotated.result.accessToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenantId: OTHER_TENANT, companyName: `Simulated Partner ${OTHER_TENANT.slice(0, 8)}` });
    expect(res.headers.get('ms-correlationid')).toMatch(GUID);

    pc.setCompanyName(OTHER_TENANT, 'Fabrikam Distribution Ltd');
    expect((await organization(rotated.result.accessToken)).body.companyName).toBe('Fabrikam Distribution Ltd');
  });

  it("refuses a sign-in without MFA with 401 and Partner Center's 900421, also after every rotation", async () => {
    const { result, refreshToken } = await signedIn({ withoutMfa: true });
    const res = await organization(result.accessToken);
    expect(res.status).toBe(401);
    expect(res.statusText).toBe('Unauthorized - MFA required');
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(res.body).toEqual({ code: 900421, description: expect.stringContaining('MFA'), data: [], source: 'PartnerFD' });
    expect(res.headers.get('ms-requestid')).toMatch(GUID);

    const rotated = await refresh(sim, refreshToken, csp, TENANT);
    expect((await organization(rotated.result.accessToken)).body.code).toBe(900421);
    expect(pc.stats.byOutcome.mfaRequired).toBe(2);
  });

  it('decides by the role the account holds, not by guest-ness: a guest admin agent is accepted, a guest without a role refused; MFA first', async () => {
    const noRole = await organization((await signedIn({ account: 'noPartnerCenterRole' })).result.accessToken);
    expect(noRole.status).toBe(403);
    expect(noRole.body).toEqual({ code: 2032, description: expect.stringContaining('no Partner Center role'), data: [], source: 'PartnerFD' });

    const guest = await organization((await signedIn({ account: 'guest' })).result.accessToken);
    expect(guest.status).toBe(403);
    expect(guest.body.code).toBe(2032);

    // A guest (acct 1, idp of its home tenant) that holds the Admin Agent role is an admin agent like any other.
    const guestAgent = await signedIn({ account: 'guestAdminAgent' });
    expect(claimsOf(guestAgent.result.accessToken)).toMatchObject({ acct: 1, idp: expect.stringContaining('https://sts.windows.net/') });
    expect((await organization(guestAgent.result.accessToken)).status).toBe(200);
    // Not being a directory administrator says nothing about Partner Center roles.
    expect((await organization((await signedIn({ account: 'adminAgentNotDirectoryAdmin' })).result.accessToken)).status).toBe(200);

    const guestWithoutMfa = await organization((await signedIn({ account: 'guestAdminAgent', withoutMfa: true })).result.accessToken);
    expect(guestWithoutMfa.body.code).toBe(900421);
    expect(pc.calls.map((c) => c.reason ?? c.outcome)).toEqual(['no role', 'no role', 'ok', 'ok', 'no mfa in amr']);
  });

  it('takes a role away or gives one', async () => {
    const { result } = await signedIn();
    const admin = sim.accountFor(TENANT);
    pc.setRoles(TENANT, admin.oid, []);
    expect((await organization(result.accessToken)).status).toBe(403);
    const user = await signedIn({ account: 'noPartnerCenterRole' });
    pc.setRoles(TENANT, sim.accountFor(TENANT, 'noPartnerCenterRole').oid, ['AdminAgent']);
    expect((await organization(user.result.accessToken)).status).toBe(200);
    pc.setRoles(TENANT, admin.oid, ['AdminAgent']);
  });

  it('answers 401 for no token, a token for another audience or version, a forged signature, and outside its lifetime', async () => {
    const { result } = await signedIn();
    const missing = await organization(undefined);
    expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 401, code: 800001 });

    const idToken = await organization(result.idToken); // v2, for the client: not a Partner Center token
    expect({ status: idToken.status, code: idToken.body.code }).toEqual({ status: 401, code: 400 });
    expect(idToken.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="the token version 2\.0 is not accepted/,
    );

    const managedIdentity = sim.mintManagedIdentityToken({
      tenant: TENANT,
      principalId: 'p',
      clientId: 'c',
      audience: 'https://api.partnercenter.microsoft.com',
    }).accessToken;
    expect((await organization(managedIdentity)).status).toBe(401);

    const [header, , signature] = result.accessToken.split('.');
    const other = await startIdentitySimulator({ tls: tlsFromEnv(), clients: [csp] });
    try {
      const foreign = (await redeemCode(other, { client: csp, tenant: TENANT })).result.accessToken; // right shape, another key
      expect((await organization(foreign)).body.description).toContain('signature');
    } finally {
      await other.close();
    }
    // The same signature over other claims (another user's oid).
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claimsOf(result.accessToken), oid: sim.accountFor(TENANT, 'noPartnerCenterRole').oid })).toString('base64url')}.${signature}`;
    expect((await organization(tampered)).body.description).toContain('signature');
    expect((await organization('not-a-jwt')).status).toBe(401);

    pc.clock.advanceMs(2 * 3600 * 1000); // an hour's token is past its lifetime and the five minutes of skew
    try {
      const expired = await organization(result.accessToken);
      expect({ status: expired.status, description: expired.body.description }).toEqual({
        status: 401,
        description: 'Access denied: the token is expired',
      });
    } finally {
      pc.clock.advanceMs(-2 * 3600 * 1000);
    }
    pc.clock.advanceMs(-3600 * 1000);
    try {
      expect((await organization(result.accessToken)).body.description).toBe('Access denied: the token is not yet valid');
    } finally {
      pc.clock.advanceMs(3600 * 1000);
    }
    expect(pc.stats.byOutcome.ok).toBe(0);
  });

  it('answers 404 elsewhere and 405 for other methods, with the correlation headers', async () => {
    const { result } = await signedIn();
    const notFound = await organization(result.accessToken, {}, '/v1/customers');
    expect({ status: notFound.status, code: notFound.body.code }).toEqual({ status: 404, code: 1000 });
    expect(notFound.headers.get('ms-correlationid')).toMatch(GUID);
    expect((await organization(result.accessToken, {}, '/v1/profiles/organization', 'POST')).status).toBe(405);
  });

  it('takes the keys directly instead of fetching them', async () => {
    const direct = await startPartnerCenterStandIn({ tls: tlsFromEnv(), keys: sim.jwks(), rolesOf: () => ['AdminAgent'] });
    try {
      const user = await signedIn({ account: 'noPartnerCenterRole' });
      const res = await fetch(`${direct.url}/v1/profiles/organization`, { headers: { Authorization: `Bearer ${user.result.accessToken}` } });
      expect(res.status).toBe(200); // rolesOf says everyone is an admin agent here
    } finally {
      await direct.close();
    }
  });
});

describe('faults', () => {
  it('MFA missing: 900421 for a valid MFA token, until cleared, for the chosen tenant only', async () => {
    const here = (await signedIn()).result.accessToken;
    const there = (await signedIn({}, OTHER_TENANT)).result.accessToken;
    pc.setFault({ kind: 'mfaMissing', tenant: TENANT });
    for (let i = 0; i < 2; i++) expect((await organization(here)).body.code).toBe(900421);
    expect((await organization(there)).status).toBe(200);
    pc.clearFaults();
    expect((await organization(here)).status).toBe(200);
    expect(pc.stats.faultsInjected).toBe(2);
  });

  it('403 and 401 on demand, counted or standing', async () => {
    const token = (await signedIn()).result.accessToken;
    pc.setFault([
      { kind: 'forbidden', count: 1 },
      { kind: 'unauthorized', count: 1 },
    ]);
    expect((await organization(token)).status).toBe(403);
    const refused = await organization(token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
    expect((await organization(token)).status).toBe(200);
  });

  it('5xx with a count and Retry-After, 429 with Retry-After, a dropped connection, then recovery', async () => {
    const token = (await signedIn()).result.accessToken;
    pc.setFault([
      { kind: 'serverError', status: 502, count: 2, retryAfterSeconds: 4 },
      { kind: 'throttle', retryAfterSeconds: 9 },
      { kind: 'networkFailure' },
    ]);
    for (let i = 0; i < 2; i++) {
      const r = await organization(token);
      expect({ status: r.status, retryAfter: r.headers.get('retry-after'), code: r.body.code }).toEqual({
        status: 502,
        retryAfter: '4',
        code: 800003,
      });
    }
    const throttled = await organization(token);
    expect({ status: throttled.status, retryAfter: throttled.headers.get('retry-after') }).toEqual({ status: 429, retryAfter: '9' });
    await expect(fetch(`${pc.url}/v1/profiles/organization`, { headers: { Authorization: `Bearer ${token}` } })).rejects.toThrow();
    expect((await organization(token)).status).toBe(200);
    expect(pc.stats.byOutcome).toMatchObject({ serverError: 2, throttled: 1, dropped: 1, ok: 1 });
  });

  it('adds latency', async () => {
    const token = (await signedIn()).result.accessToken;
    pc.setFault({ kind: 'latency', ms: 150 });
    const started = Date.now();
    expect((await organization(token)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('over the JSON-only control API, without a token in any record', async () => {
    const { result } = await signedIn();
    const post = (path: string, body: unknown, type = 'application/json') =>
      fetch(`${pc.url}/_partnercenter/${path}`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });
    expect((await post('faults', { kind: 'mfaMissing' }, 'text/plain')).status).toBe(415);
    expect((await post('faults', { kind: 'explode' })).status).toBe(400);
    expect((await post('faults', { kind: 'forbidden', count: 1 })).status).toBe(204);
    expect((await organization(result.accessToken)).status).toBe(403);
    expect((await post('partners', { tenantId: TENANT, companyName: 'Renamed AG' })).status).toBe(204);
    expect((await organization(result.accessToken)).body.companyName).toBe('Renamed AG');
    pc.setCompanyName(TENANT, 'Contoso Distribution GmbH');
    expect((await post('roles', { tenantId: TENANT, objectId: sim.accountFor(TENANT).oid, roles: [] })).status).toBe(204);
    expect((await organization(result.accessToken)).status).toBe(403);
    pc.setRoles(TENANT, sim.accountFor(TENANT).oid, ['AdminAgent']);
    expect((await post('faults', { kind: 'unauthorized' })).status).toBe(204);
    expect((await fetch(`${pc.url}/_partnercenter/faults`, { method: 'DELETE', headers: { 'content-type': 'application/json' } })).status).toBe(204);
    expect((await post('clock', { advanceMs: 0 })).status).toBe(200);

    const stats = (await (await fetch(`${pc.url}/_partnercenter/stats`)).json()) as {
      requests: number;
      byOutcome: Record<string, number>;
      faultsActive: unknown[];
    };
    expect(stats).toMatchObject({ requests: 3, byOutcome: { forbidden: 2, ok: 1 }, faultsActive: [] });
    expect(JSON.stringify(pc.calls)).not.toContain(result.accessToken.split('.')[2]!);
    expect((await post('reset', {})).status).toBe(204);
    expect(pc.stats.requests).toBe(0);
  });
});

describe("with the simulator's refusals upstream", () => {
  it('never sees a token the simulator refused to issue (MFA required by Conditional Access at refresh)', async () => {
    const { refreshToken } = await signedIn();
    sim.faults.apply({ kind: 'mfaRequired', tenant: TENANT });
    const err = await msalError(refresh(sim, refreshToken, csp, TENANT));
    expect(err).not.toBeInstanceOf(ServerError); // interaction required: a person has to sign in again
    expect(pc.stats.requests).toBe(0);
  });
});
