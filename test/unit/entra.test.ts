import { classifyTokenFailure } from '../../shared/identity/tokenFailure';
import { readAuthorizeError } from '../../shared/signIn/authorizeError';
import { parseSignInPrompt } from '../../shared/signIn/begin';
import { approvalLinkUrl, authorizeParameters, authorizeUrl } from '../../shared/signIn/entraUrls';
import { refreshTokenFromCache } from '../../shared/identity/cache';

describe('authorize URL', () => {
  it('asks the partner tenant for the Partner Center scope with PKCE S256', () => {
    const url = new URL(
      authorizeUrl({
        authorityHost: 'https://login.microsoftonline.com',
        tenantId: 't-1',
        clientId: 'c-1',
        redirectUri: 'https://app/api/callback',
        state: 's',
        nonce: 'n',
        codeChallenge: 'ch',
      }),
    );
    expect(url.origin + url.pathname).toBe('https://login.microsoftonline.com/t-1/oauth2/v2.0/authorize');
    expect(url.searchParams.get('scope')).toBe('https://api.partnercenter.microsoft.com/user_impersonation offline_access openid profile');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toBe('ch');
    expect(url.searchParams.get('redirect_uri')).toBe('https://app/api/callback');
    expect(url.searchParams.has('code_verifier')).toBe(false);
  });

  const request = {
    authorityHost: 'https://login.microsoftonline.com',
    tenantId: 't-1',
    clientId: 'c-1',
    redirectUri: 'https://app/api/callback',
    state: 's',
    nonce: 'n',
    codeChallenge: 'ch',
  };

  it('sends only parameters the v2 endpoint documents: never amr_values or resource, which it refuses with AADSTS901002', () => {
    const url = new URL(authorizeUrl(request));
    expect([...url.searchParams.keys()].sort()).toEqual([...authorizeParameters].sort());
    for (const v1 of ['amr_values', 'resource', 'acr_values']) expect(url.searchParams.has(v1)).toBe(false);
  });

  it('asks the person to pick the account, or with prompt=login for credentials again; one prompt value, never both', () => {
    expect(new URL(authorizeUrl(request)).searchParams.getAll('prompt')).toEqual(['select_account']);
    expect(new URL(authorizeUrl({ ...request, prompt: 'login' })).searchParams.getAll('prompt')).toEqual(['login']);
  });

  it('takes only prompt=login from the start form', () => {
    expect(parseSignInPrompt(null)).toEqual({ ok: true });
    expect(parseSignInPrompt('')).toEqual({ ok: true });
    expect(parseSignInPrompt('login')).toEqual({ ok: true, prompt: 'login' });
    for (const other of ['none', 'consent', 'select_account', 'Login', 'login ', 'login select_account'])
      expect(parseSignInPrompt(other).ok).toBe(false);
  });

  it('builds the approval link for an administrator without a state or a tenant (it travels to another browser)', () => {
    const url = new URL(
      approvalLinkUrl({ authorityHost: 'https://login.microsoftonline.com', clientId: 'c-1', redirectUri: 'https://app/api/callback' }),
    );
    expect(url.origin + url.pathname).toBe('https://login.microsoftonline.com/organizations/v2.0/adminconsent');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'c-1',
      redirect_uri: 'https://app/api/callback',
      scope: 'https://api.partnercenter.microsoft.com/user_impersonation offline_access openid profile',
    });
  });
});

describe('errors Entra sends back to the callback', () => {
  const cpv = { id: 'MP-00002', model: 'CPV' as const };
  const csp = { id: 'MP-00001', model: 'CSP' as const };
  const read = (error: string, description: string | null, m: { id: string; model: 'CPV' | 'CSP' } = cpv) => {
    const a = readAuthorizeError(error, description, m);
    return a.kind === 'consent' ? `consent ${a.declined ? 'declined' : 'needed'}` : a.error.code;
  };

  it.each([
    // Interactively only a cancel (or the way back from "Need admin approval") comes back, as access_denied.
    ['access_denied', 'AADSTS65004: User declined to consent to access the app.', 'consent declined'],
    ['access_denied', null, 'consent declined'],
    // The admin-consent endpoint documents its refusal this way.
    ['consent_required', 'AADSTS65004: The resource owner or authorization server denied the request.', 'consent declined'],
    // Only for prompt=none, which the service never sends; still the approval page.
    ['consent_required', 'AADSTS65001: The user or administrator has not consented', 'consent needed'],
    ['unauthorized_client', 'AADSTS700016: Application with identifier', 'consent needed'],
    // The request the service built was refused: the operator's alert, whether for CPV or CSP.
    ['invalid_request', "AADSTS901002: The 'amr_values' request parameter is not supported.", 'authorize_request_refused'],
    ['unsupported_response_type', null, 'authorize_request_refused'],
    ['temporarily_unavailable', null, 'identity_unavailable'],
    ['login_required', null, 'authorization_denied'],
    ['<script>', null, 'authorization_denied'],
  ])('CPV: %s (%s) → %s', (error, description, expected) => {
    expect(read(error, description)).toBe(expected);
  });

  it("for a CSP marketplace consent is the distributor's own business: access_denied is a sign-in that did not complete", () => {
    expect(read('access_denied', 'AADSTS65004', csp)).toBe('authorization_denied');
    expect(read('invalid_request', 'AADSTS901002', csp)).toBe('authorize_request_refused');
  });

  it('keeps the AADSTS code for diagnosis, never the description', () => {
    const a = readAuthorizeError('invalid_request', "AADSTS901002: The 'amr_values' request parameter is not supported.\r\nTrace ID: x", csp);
    expect(a.kind === 'error' && a.error.diagnosis()).toMatchObject({ error: 'invalid_request', aadsts: 901002 });
    expect(a.kind === 'error' && a.error.message).not.toContain('amr_values');
  });
});

describe('token failure classes (docs/SECURITY.md 17)', () => {
  it.each([
    [{ error: 'invalid_grant', aadsts: 700082 }, 'needs-reauth', 'expired'],
    [{ error: 'invalid_grant', aadsts: 70008 }, 'needs-reauth', 'expired'],
    [{ error: 'invalid_grant', aadsts: 50173 }, 'needs-reauth', 'revoked'],
    [{ error: 'invalid_grant', aadsts: 70043 }, 'needs-reauth', 'sign-in-frequency'],
    [{ error: 'invalid_grant', aadsts: 65001 }, 'needs-reauth', 'consent'],
    [{ error: 'invalid_grant', aadsts: 50076 }, 'needs-reauth', 'mfa'],
    [{ error: 'interaction_required', aadsts: 50079 }, 'needs-reauth', 'mfa'],
    [{ error: 'invalid_grant', aadsts: 53003 }, 'needs-reauth', 'conditional-access'],
    [{ error: 'invalid_grant', aadsts: 123456 }, 'needs-reauth', 'invalid-grant'],
    [{ error: 'invalid_client', aadsts: 7000215 }, 'invalid-client', 'invalid-secret'],
    [{ error: 'invalid_client', aadsts: 7000222 }, 'invalid-client', 'expired-secret'],
    [{ error: 'invalid_client', aadsts: 70021 }, 'invalid-client', 'federated-credential-mismatch'],
    // A wrong tenant is the operator's file, not the token: never parked (docs/SECURITY.md 34).
    [{ error: 'invalid_grant', aadsts: 7000012 }, 'configuration', 'wrong-tenant'],
    [{ error: 'invalid_request', aadsts: 90002 }, 'configuration', 'tenant-not-found'],
    [{ error: 'invalid_request', aadsts: 900023 }, 'configuration', 'tenant-not-found'],
    [{ error: 'invalid_request', aadsts: 9002313 }, 'rejected', 'invalid-request'],
    [{ error: 'temporarily_unavailable', status: 503 }, 'transient', 'unavailable'],
    [{ status: 429 }, 'transient', 'throttled'],
    [{ status: 502 }, 'transient', 'unavailable'],
    [{ network: true }, 'transient', 'network'],
    // The error field wins over the code: a transient error with a reauth-looking code is still transient.
    [{ error: 'temporarily_unavailable', aadsts: 700082 }, 'transient', 'unavailable'],
  ])('%j → %s / %s', (input, cls, reason) => {
    expect(classifyTokenFailure(input)).toMatchObject({ class: cls, reason });
  });
});

describe('refresh token from the msal-node cache', () => {
  const cache = (entries: Record<string, unknown>) => JSON.stringify({ RefreshToken: entries });
  it('takes the entry of this account and client', () => {
    const c = cache({
      a: { home_account_id: 'u.t', client_id: 'app', secret: 'RIGHT', credential_type: 'RefreshToken' },
      b: { home_account_id: 'other.t', client_id: 'app', secret: 'OTHER-ACCOUNT' },
      c: { home_account_id: 'u.t', client_id: 'other-app', secret: 'OTHER-APP' },
    });
    expect(refreshTokenFromCache(c, 'u.t', 'app')).toBe('RIGHT');
  });
  it('refuses when there is none or more than one, without quoting any token', () => {
    expect(() => refreshTokenFromCache(cache({}), 'u.t', 'app')).toThrow(/no refresh token/);
    const two = cache({
      a: { home_account_id: 'u.t', client_id: 'app', secret: 'S1' },
      b: { home_account_id: 'u.t', client_id: 'app', secret: 'S2' },
    });
    expect(() => refreshTokenFromCache(two, 'u.t', 'app')).toThrow(/2 matching/);
    try {
      refreshTokenFromCache(two, 'u.t', 'app');
    } catch (e) {
      expect(String((e as Error).message)).not.toMatch(/S1|S2/);
    }
  });
});
