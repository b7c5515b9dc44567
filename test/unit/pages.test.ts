import { AppError, type ErrorCode } from '../../shared/errors';
import { describeError, httpStatusOf } from '../../shared/web/errorCatalog';
import { escapeHtml, html, literal } from '../../shared/web/html';
import { errorPage } from '../../shared/web/pages/error';
import { startPage } from '../../shared/web/pages/start';
import { statusPage } from '../../shared/web/pages/status';
import { tokenPage } from '../../shared/web/pages/token';
import { isCrossSitePost } from '../../shared/web/requestGuards';
import { contentSecurityPolicy } from '../../shared/web/responses';

const payload = `"><script>alert(1)</script><img src=x onerror=alert(2)>'\``;

describe('pages escape by default', () => {
  it('escapes every interpolation', () => {
    expect(html`<p title="${payload}">${payload}</p>`.text).not.toMatch(/<script|<img|"><|onerror=alert\(2\)>/);
    expect(escapeHtml(`&<>"'\``)).toBe('&amp;&lt;&gt;&quot;&#39;&#96;');
  });
  it('literal`` refuses interpolations at run time too', () => {
    const call = literal as unknown as (s: TemplateStringsArray, ...v: unknown[]) => unknown;
    expect(() => call(Object.assign(['a', 'b'], { raw: ['a', 'b'] }), 'x')).toThrow();
  });
  it('the start page re-shows a bad value escaped, with the reason', () => {
    const page = startPage({ environment: 'test', nonce: 'n', value: payload, error: 'Bad' }).text;
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('&lt;script&gt;alert(1)');
    expect(page).toContain('aria-invalid="true"');
    expect(page).toMatch(/<label for="marketplace">Marketplace ID<\/label>/);
    expect(page).toMatch(/<button type="submit">Generate Refresh Token<\/button>/);
    // A typing mistake is answered on the form, without a support reference (docs/SECURITY.md 11).
    expect(page).not.toMatch(/Reference:|correlation-id/);
  });
  it('the start page says what a sign-in needs before the button: the tenant account, MFA, Admin Agent, and approval for CPV', () => {
    const page = startPage({ environment: 'test', nonce: 'n', approvalLink: 'https://login.example/organizations/v2.0/adminconsent' }).text;
    const before = page.slice(0, page.indexOf('Generate Refresh Token</button>'));
    for (const need of [
      /account of your company's Microsoft partner tenant/,
      /multi-factor authentication \(MFA\)/,
      /<strong>Admin Agent<\/strong>/,
      /approval by an administrator/,
    ])
      expect(before).toMatch(need);
  });
  it('the token page shows the token read-only, the parameter, and a nonce-bound copy script', () => {
    const page = tokenPage({
      environment: 'production',
      nonce: 'abc',
      marketplace: 'MP-00001',
      token: '1.A<b>',
      parameterName: 'refresh_token_production',
      partner: 'Contoso <Partner>',
      signer: { objectId: 'o', userName: 'admin@contoso.example' },
      expiresOn: new Date('2027-03-01T10:00:00Z'),
    }).text;
    expect(page).toMatch(/<label for="token">Refresh token<\/label>\s*<textarea id="token" rows="\d+" readonly>1\.A&lt;b&gt;<\/textarea>/);
    // Not pushed to Connect: one next step, where to paste it, and how long the pasted copy lives.
    expect(page).toContain('<h2>Next step</h2>');
    expect(page).toContain('1 March 2027');
    expect(page).toContain('<code id="parameter-name">refresh_token_production</code>');
    expect(page).toContain('<script nonce="abc">');
    expect(page).toContain('Production environment');
    expect(page).toContain('Verified with Partner Center: it works for <strong>Contoso &lt;Partner&gt;</strong>');
  });
});

describe('the token page says exactly what to do', () => {
  const base = {
    environment: 'test' as const,
    nonce: 'n',
    marketplace: 'MP-00001',
    token: `1.A${'x'.repeat(1400)}`,
    parameterName: 'refresh_token_test',
    partner: 'Contoso',
    signer: { objectId: 'o', userName: 'admin@contoso.example' },
    expiresOn: new Date('2027-03-01T10:00:00Z'),
  };
  it('Connect updated: nothing to do, the token behind "Show the token"', () => {
    const page = tokenPage({ ...base, connect: { updated: [{ id: 'PRD-000-000-001' }], failed: [] } }).text;
    expect(page).toContain('<strong>Nothing to do:</strong>');
    expect(page).toMatch(/<details id="token-details"><summary>Show the token<\/summary>/);
    expect(page).not.toContain('Next step');
  });
  it('Connect not updated: where to paste it, which product (by the name the operator gave it), how long the copy lives', () => {
    const page = tokenPage({ ...base, connect: { updated: [], failed: [{ id: 'PRD-000-000-001', name: 'Microsoft <365> NCE' }], pending: [] } }).text;
    expect(page).toContain('<h2>Next step</h2>');
    expect(page).toMatch(
      /then <strong>Microsoft &lt;365&gt; NCE<\/strong> \(<span class="nowrap">PRD-000-000-001<\/span>\), then <strong>Configuration<\/strong>, and paste the token into the parameter <code id="parameter-name">refresh_token_test<\/code> of marketplace <span class="nowrap">MP-00001<\/span>/,
    );
    expect(page).toContain('Connect refused the update');
    expect(page).toContain('1 March 2027');
    expect(page).toMatch(/works until it goes 90 days without being used/);
    expect(page).not.toContain('<details');
  });
  it('speaks of the service, never of Key Vault, and ends with Done and a link to Connect', () => {
    for (const connect of [undefined, { updated: [{ id: 'PRD-000-000-001' }], failed: [] }]) {
      const page = tokenPage({ ...base, ...(connect ? { connect } : {}) }).text;
      expect(page).not.toMatch(/Key Vault/i);
      expect(page).toMatch(/<a class="button" id="done" href="start">Done<\/a>/);
      expect(page).toMatch(/<a id="open-connect" href="https:\/\/connect\.cloudblue\.com\/" rel="noreferrer">Open CloudBlue Connect<\/a>/);
    }
  });
  it('shows the whole token: rows enough for its length at phone width', () => {
    const rows = Number(/<textarea id="token" rows="(\d+)"/.exec(tokenPage(base).text)?.[1]);
    expect(rows).toBeGreaterThanOrEqual(Math.ceil(base.token.length / 56));
  });
  it('takes the token off the page when it is left (back/forward cache)', () => {
    expect(tokenPage(base).text).toMatch(/addEventListener\('pagehide'/);
  });
});

describe('errors', () => {
  const codes: ErrorCode[] = [
    'marketplace_id_invalid',
    'marketplace_not_found',
    'transaction_missing',
    'state_mismatch',
    'tenant_mismatch',
    'secret_store_failed',
    'internal',
    'method_not_allowed',
  ];
  it.each(codes)('%s maps to one status and a page with a correlation id and something to do', (code) => {
    const status = httpStatusOf(code);
    expect(status).toBeGreaterThanOrEqual(400);
    const d = describeError(new AppError(code, 'x'));
    expect(d.todo.length).toBeGreaterThan(10);
    const page = errorPage({ nonce: 'n', ...d, correlationId: 'corr-1' }).text;
    expect(page).toContain('corr-1');
  });
  it('the not-found answer is the troubleshooting text for a marketplace missing from the configuration', () => {
    const d = describeError(new AppError('marketplace_not_found', 'x', { marketplace: 'MP-99999' }));
    const page = errorPage({ nonce: 'n', ...d, correlationId: 'c' }).text;
    expect(page).toContain('The marketplace ID was not found in the configuration file');
    expect(page).toContain('Microsoft Direct Billed partner');
    expect(page).toContain('CloudBlue PdM for Microsoft products');
    expect(page).toContain('CSAM');
    expect(page).toContain('MP-99999');
    // CloudBlue's words first, word for word, then what they mean, then whom to ask.
    expect(page.indexOf('id="cloudblue-note"')).toBeLessThan(page.indexOf('id="plain-words"'));
    expect(page.indexOf('id="plain-words"')).toBeLessThan(page.indexOf('id="support-contact"'));
    expect(page).toMatch(/Who to contact:<\/strong> the operator of this service \(whoever sent you its address\), or your CloudBlue contact/);
  });
  it.each([
    ['support@distributor.example', '<a href="mailto:support@distributor.example"><span class="nowrap">support@distributor.example</span></a>'],
    [
      'https://help.distributor.example/ms-token',
      '<a href="https://help.distributor.example/ms-token">https://help.distributor.example/ms-token</a>',
    ],
  ])('the not-found page names the contact the operator configured (%s)', (support, link) => {
    const d = describeError(new AppError('marketplace_not_found', 'x', { marketplace: 'MP-99999' }), { support });
    expect(errorPage({ nonce: 'n', ...d, correlationId: 'c' }).text).toContain(`<strong>Who to contact:</strong> ${link}`);
  });
  it('an ID in a message never wraps at its hyphen', () => {
    const d = describeError(new AppError('tenant_mismatch', 'x', { marketplace: 'MP-00001' }));
    expect(errorPage({ nonce: 'n', ...d, correlationId: 'c' }).text).toContain('marketplace <span class="nowrap">MP-00001</span>');
  });
});

describe('CSP and cross-site POST', () => {
  it('allows only nonce scripts, self styles and forms to self and the authority', () => {
    expect(contentSecurityPolicy('N', { https: true, authorityOrigin: 'https://login.microsoftonline.com' })).toBe(
      "default-src 'none'; style-src 'self' 'nonce-N'; script-src 'nonce-N'; form-action 'self' https://login.microsoftonline.com; frame-ancestors 'none'; base-uri 'none'",
    );
  });
  const h = (o: Record<string, string>) => new Headers(o);
  const site = 'https://app.example';
  it.each([
    [{ 'sec-fetch-site': 'same-origin', origin: 'null' }, false],
    [{ 'sec-fetch-site': 'same-origin' }, false],
    [{ 'sec-fetch-site': 'cross-site', origin: 'null' }, true],
    [{ 'sec-fetch-site': 'cross-site', origin: site }, true],
    [{ 'sec-fetch-site': 'same-site', origin: 'https://evil.app.example' }, true],
    [{ 'sec-fetch-site': 'none' }, true],
    [{ origin: site }, false],
    [{ origin: 'https://evil.example' }, true],
    [{ origin: 'null' }, true],
    [{}, false],
  ])('%j → cross-site %s', (headers, refused) => {
    expect(isCrossSitePost(h(headers), site)).toBe(refused);
  });
});

describe('the status page says why tokens were skipped, in words', () => {
  const report = (skipped: Record<string, number>) => ({
    environment: 'test' as const,
    generatedAt: '2026-12-01T12:00:00.000Z',
    configuration: { usable: true, problems: [] },
    connectPush: false,
    singleRuns: [],
    lastRun: {
      startedAt: '2026-12-01T03:00:00.000Z',
      trigger: 'timer',
      durationMs: 1000,
      total: 6,
      rotated: 0,
      failed: 0,
      needsReauth: 0,
      needsAttention: 0,
      notReached: 0,
      skipped,
    },
    schedule: '0 0 3 * * *',
    tokens: [],
    credentials: [],
  });
  const skippedLine = (skipped: Record<string, number>) =>
    /<dd id="last-run-skipped">([^<]*)<\/dd>/.exec(statusPage({ nonce: 'N', report: report(skipped) }).toString())?.[1];

  it('names each reason the timer skips for', () => {
    expect(skippedLine({ 'recently-rotated': 3, 'needs-reauth': 2, 'in-progress': 1 })).toBe(
      '3 generated or rotated less than 12 hours ago, 2 waiting for a person to generate them again, 1 already being rotated by another run',
    );
  });
  it('shows a reason it has no words for as it was recorded, and "none" when nothing was skipped', () => {
    expect(skippedLine({ 'some-new-reason': 1 })).toBe('1 some-new-reason');
    expect(skippedLine({})).toBe('none');
  });
});
