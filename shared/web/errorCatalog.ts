/**
 * For every error code, in one place: the HTTP status and what a person reads. The record is
 * keyed by ErrorCode, so a new code without an entry is a compile error, never a generic page.
 * Pages never reflect input beyond a validated marketplace ID.
 */
import type { AppError, ErrorCode } from '../errors';
import { notFoundExplanation } from '../marketplaces/notFound';
import { maxSignInsInFlight } from '../signIn/browserBounds';
import { html, type Html } from './html';
import { supportContact } from './pages/contact';
import { startPath } from './pages/layout';
import { nowrap } from './pages/unbreakable';

export interface DescribedError {
  title: string;
  /** What happened, in a sentence: the page's first paragraph, and the `message` of a JSON error. */
  message: string;
  todo: string;
  extra?: Html;
  /** The whole page body under the heading, when a page needs more than message, todo and extra. */
  body?: Html;
  /** false: the page offers its own way on (e.g. "Sign in again") instead of "Start again". */
  retry?: boolean;
}

/** What a page may say beyond the error itself: the contact the operator configured (SUPPORT_CONTACT). */
export interface PageContext {
  support?: string;
}

interface CatalogEntry {
  status: number;
  describe: (err: AppError, context: PageContext) => DescribedError;
}

const retryLater = 'Try again in a minute. If it keeps failing, send the reference below to the operator of this service.';
/** An operator's mistake: said out loud, never a misleading answer such as "marketplace not found" (docs/SECURITY.md 31). */
const misconfigured = (): DescribedError => ({
  title: 'This service is not configured correctly',
  message: 'The service cannot work until its operator corrects its configuration. The operator has been told.',
  todo: 'Try again later. If you need the token soon, send the reference below to the operator of this service.',
});

const catalog: Record<ErrorCode, CatalogEntry> = {
  settings_invalid: { status: 503, describe: misconfigured },
  configuration_invalid: { status: 503, describe: misconfigured },
  marketplace_id_invalid: {
    status: 400,
    describe: () => ({
      title: 'Invalid marketplace ID',
      message: 'A marketplace ID is MP- followed by 5 to 8 digits, for example MP-12345.',
      todo: 'Copy the ID from the Marketplaces page in Connect.',
    }),
  },
  marketplace_not_found: {
    status: 404,
    // CloudBlue's own troubleshooting text, word for word (shared/marketplaces/notFound.ts), then what it means in plain words, then whom to ask.
    describe: (err, context) => {
      const id = err.marketplace ?? 'unknown';
      return {
        title: 'Marketplace not found',
        message: `${notFoundExplanation.what} (${id})`,
        todo: notFoundExplanation.todo,
        body: html`<p>CloudBlue's troubleshooting answer:</p>
<blockquote id="cloudblue-note">
<p>${notFoundExplanation.what} (${nowrap(id)})</p>
<p>${notFoundExplanation.why}</p>
<p>${notFoundExplanation.todo}</p>
</blockquote>
<h2>What this means</h2>
<p id="plain-words">This service does not know marketplace ${nowrap(id)} yet, so it cannot tell which Microsoft account to sign you in with. Nothing is wrong with your Microsoft account, and nothing was sent to Microsoft.</p>
<p><strong>What to do:</strong> check the ID on the Marketplaces page in Connect. If it is right, the people who run this service must add the marketplace before you can get a token: ask them, quoting the marketplace ID. CloudBlue's product manager for Microsoft products (the PdM) or your CloudBlue customer success manager (the CSAM) can ask them for you.</p>
${supportContact(context.support)}`,
      };
    },
  },
  marketplace_misconfigured: {
    status: 503,
    describe: (err) => ({
      title: 'This marketplace is not configured correctly',
      message: `The configuration of marketplace ${err.marketplace ?? ''} in this service has a problem${err.field ? ` (${err.field})` : ''}.`,
      todo: 'The operator of this service has been told. Try again later, or send the reference below to the operator.',
    }),
  },
  cross_site_request: {
    status: 403,
    describe: () => ({
      title: 'Request refused',
      message: 'The form was sent from another site.',
      todo: 'Open the start page of this service directly and use its form.',
    }),
  },
  method_not_allowed: {
    status: 405,
    describe: () => ({
      title: 'Method not allowed',
      message: 'This address does not accept that kind of request.',
      todo: 'Open the start page of this service.',
    }),
  },
  body_too_large: {
    status: 413,
    describe: () => ({
      title: 'Request too large',
      message: 'The request is larger than this page accepts.',
      todo: 'Open the start page and enter only a marketplace ID.',
    }),
  },
  unsupported_media_type: {
    status: 415,
    describe: () => ({
      title: 'Unsupported request',
      message: 'The form must be sent as a normal web form.',
      todo: 'Open the start page and use its form.',
    }),
  },
  transaction_missing: {
    status: 400,
    describe: () => ({
      title: 'Sign-in session not found',
      message:
        'This browser has no sign-in that matches this answer from Microsoft: the address was opened directly or in another browser, the sign-in is more than 10 minutes old, or cookies are blocked for this site.',
      todo: 'Start again from the start page in this browser, and allow cookies for this site.',
    }),
  },
  transaction_expired: {
    status: 400,
    describe: () => ({
      title: 'Sign-in took too long',
      message: 'The sign-in must be completed within 10 minutes.',
      todo: 'Start again from the start page.',
    }),
  },
  transaction_evicted: {
    status: 400,
    describe: () => ({
      title: 'This sign-in was set aside',
      message: `A browser can keep ${maxSignInsInFlight} sign-ins going at once. More were started in this one after this sign-in, so this one, the oldest, was set aside. Nothing was stored, and the other sign-ins are not affected.`,
      todo: 'Start this sign-in again from the start page. Finish some of the others first if you have many tabs open.',
    }),
  },
  transaction_invalid: { status: 400, describe: () => notThisSignIn },
  state_mismatch: { status: 400, describe: () => notThisSignIn },
  authorize_request_refused: {
    status: 502,
    describe: (err) => ({
      title: 'Microsoft refused the sign-in request',
      message: `Microsoft Entra ID refused the sign-in request this service sent${aadstsOf(err)}. This is not something you can fix by signing in again.`,
      todo: 'The operator of this service has been told. Send the reference below to the operator if you need the token soon.',
    }),
  },
  sign_in_option_invalid: {
    status: 400,
    describe: () => ({
      title: 'Sign-in option not offered',
      message: 'The form asked for a sign-in option this service does not offer.',
      todo: 'Open the start page of this service and use its form.',
    }),
  },
  authorization_denied: {
    status: 400,
    describe: () => ({
      title: 'Sign-in was not completed',
      message: 'Microsoft did not complete the sign-in (it was cancelled or refused).',
      todo: 'Start again and sign in with an administrator account of the partner tenant configured for this marketplace.',
    }),
  },
  consent_required: {
    status: 403,
    describe: () => ({
      title: 'Administrator approval needed',
      message: 'An administrator of the partner tenant must approve access for this application first.',
      todo: 'Ask an administrator of the partner tenant to approve access, then start again.',
    }),
  },
  tenant_mismatch: {
    status: 403,
    describe: (err) => ({
      title: 'Wrong Microsoft account',
      message: `The account you signed in with does not belong to the partner tenant configured for marketplace ${err.marketplace ?? ''}. No token was stored.`,
      todo: 'Start again and sign in with an account of the partner tenant configured for this marketplace (use a private window if you are signed in to several).',
      extra: signedInAs(err),
    }),
  },
  // Entra refused what the request brought (a replayed, forged or expired code): the caller's
  // request, so 400, not a gateway error.
  token_refused: {
    status: 400,
    describe: (err) =>
      err.diagnosis().reason === 'conditional-access'
        ? {
            // Signing in again meets the same policy: only the partner's administrator can change it.
            title: 'Blocked by a Conditional Access policy',
            message: `Microsoft blocked the sign-in with a Conditional Access policy of the partner tenant${aadstsOf(err)}. No token was stored.`,
            todo: 'Signing in again does not help. An administrator of the partner tenant must change that Conditional Access policy, or exclude this account or this application from it; then start again.',
            extra: signedInAs(err),
          }
        : {
            title: 'Microsoft did not issue a token',
            message: `Microsoft refused to issue a refresh token${aadstsOf(err)}.`,
            todo: 'Start again. If it fails again, send the reference below to the operator of this service.',
            extra: signedInAs(err),
          },
  },
  client_credentials_invalid: {
    status: 502,
    describe: (err) => ({
      title: 'Microsoft did not issue a token',
      message: `Microsoft refused this service's application${aadstsOf(err)}: its credential is wrong or expired.`,
      todo: 'Send the reference below to the operator of this service; no token was stored.',
    }),
  },
  refresh_token_missing: {
    status: 502,
    describe: () => ({
      title: 'Microsoft did not issue a refresh token',
      message: 'Microsoft signed you in but returned no refresh token (offline access was not granted).',
      todo: 'Start again. If it fails again, send the reference below to the operator of this service.',
    }),
  },
  identity_unavailable: {
    status: 503,
    describe: () => ({
      title: 'Microsoft sign-in is unavailable',
      message: 'Microsoft Entra ID did not answer in time.',
      todo: 'Wait a minute and start again.',
    }),
  },
  secret_store_failed: {
    status: 503,
    describe: () => ({
      title: 'The token could not be stored',
      message: 'Microsoft issued a token, but the service could not store it safely, so it is not shown.',
      todo: 'Wait a minute and start again. If it keeps failing, send the reference below to the operator.',
    }),
  },
  connect_call_failed: {
    status: 502,
    describe: () => ({ title: 'Connect did not answer', message: 'CloudBlue Connect refused or did not answer the request.', todo: retryLater }),
  },
  consent_declined: {
    status: 403,
    describe: (err) => ({
      title: 'Approval was declined',
      message: `An administrator of the partner tenant declined access for the CloudBlue application${err.marketplace ? ` (marketplace ${err.marketplace})` : ''}. No token can be generated until access is approved.`,
      todo: 'Ask an administrator of the partner tenant (Global Administrator or Privileged Role Administrator) to approve access, then start again.',
    }),
  },
  consent_unconfirmed: {
    status: 400,
    describe: () => ({
      title: 'Approval could not be confirmed here',
      message:
        'This answer from Microsoft does not belong to an approval started in this browser (for example, an approval link someone copied for you), so the service cannot say whether access was approved.',
      todo: 'If you approved access, tell the person who asked you to generate the token again. If you started the approval yourself, go back to the browser where the sign-in started and generate the token again.',
    }),
  },
  mfa_required: {
    status: 403,
    describe: (err) => ({
      title: 'Multi-factor authentication is required',
      message:
        'Partner Center accepts only sign-ins that completed multi-factor authentication (MFA), and this one did not. No token was stored or sent to Connect.',
      todo: 'The partner tenant must require MFA for this account: an administrator of the partner tenant turns on a Conditional Access policy that requires MFA, or the security defaults. If the tenant signs in through a federated identity provider, that provider must pass the MFA claim to Microsoft Entra ID. Then sign in again: Microsoft asks for the password and the second factor, not an earlier session.',
      extra: html`${signedInAs(err) ?? ''}${signInAgain(err)}`,
      retry: err.marketplace === undefined,
    }),
  },
  partner_center_role_missing: {
    status: 403,
    describe: (err) => ({
      title: 'The account has no Partner Center role',
      message:
        'Partner Center refused this account: it holds no Partner Center role in the partner organization. No token was stored or sent to Connect.',
      todo: 'Sign in with an account that has the Admin Agent role in Partner Center (a guest account of the partner tenant can hold it too), or ask a Partner Center administrator to give this account that role.',
      extra: signedInAs(err),
    }),
  },
  partner_center_refused: {
    status: 403,
    describe: (err) => ({
      title: 'Partner Center refused the token',
      message: 'Microsoft issued a token, but Partner Center did not accept it. No token was stored or sent to Connect.',
      todo: 'Start again with an administrator account of the partner tenant. If it fails again, send the reference below to the operator of this service.',
      extra: signedInAs(err),
    }),
  },
  partner_center_unavailable: {
    status: 503,
    describe: () => ({
      title: 'Partner Center did not answer',
      message: 'Your sign-in worked, but Partner Center did not answer in time, so the token could not be proven and was not stored.',
      todo: 'Wait a minute and start again.',
    }),
  },
  token_not_found: {
    status: 404,
    describe: (err) => ({
      title: 'No token stored',
      message: `No refresh token is stored for marketplace ${err.marketplace ?? ''} in this environment, so there is nothing to rotate.`,
      todo: "Generate one on this service's start page first.",
    }),
  },
  token_needs_attention: {
    status: 503,
    describe: (err) => ({
      title: 'The stored token needs the operator',
      message: `The token stored for marketplace ${err.marketplace ?? ''} was changed outside this service (written by hand, or disabled), so the service will not replace it.`,
      todo: 'The operator has been told. Send the reference below to the operator of this service if you need the token soon.',
    }),
  },
  not_found: {
    status: 404,
    describe: () => ({ title: 'Page not found', message: 'There is no page at this address.', todo: 'Open the start page of this service.' }),
  },
  internal: {
    status: 500,
    describe: () => ({ title: 'Something went wrong', message: 'The service could not complete the request.', todo: retryLater }),
  },
  // Abuse bounds (docs/SECURITY.md 28, 29): each page says when to try again, as Retry-After does.
  rate_limited: {
    status: 429,
    describe: (err) => ({
      title: 'Too many sign-in attempts',
      message:
        'This service lets only a few sign-ins through per minute, to keep Microsoft sign-in working for everyone. Nothing was sent to Microsoft.',
      todo: `Wait ${waitOf(err)}, then start again.`,
    }),
  },
  sign_in_busy: {
    status: 503,
    describe: (err) => ({
      title: 'Sign-ins cannot be completed right now',
      message:
        'The service could not record your sign-in safely (its storage did not answer), so it did not complete it. Nothing was sent to Microsoft.',
      todo: `Try again in ${waitOf(err, 'a minute')}: start again from the start page.`,
    }),
  },
  host_not_allowed: {
    status: 421,
    describe: () => ({
      title: 'Wrong address',
      message: 'This local service answers only at its own address (localhost).',
      todo: 'Open the start URL that the service printed when it started.',
    }),
  },
  // Raised by the near-expiry queue trigger, which no person reads; here because every code has an entry.
  rotation_incomplete: {
    status: 503,
    describe: () => ({
      title: 'Rotation not finished',
      message: 'A token could not be rotated just now.',
      todo: retryLater,
    }),
  },
  storage_failed: {
    status: 503,
    describe: () => ({
      title: 'The service is temporarily unavailable',
      message: 'The service could not reach its own storage, so it did not complete the request. Nothing was changed.',
      todo: retryLater,
    }),
  },
  lease_lost: {
    status: 503,
    describe: () => ({
      title: 'The token is being updated',
      message: "Another update of this marketplace's token took over before this one finished. The token that was current stays current.",
      todo: retryLater,
    }),
  },
  token_busy: {
    status: 503,
    describe: (err) => ({
      title: 'The token is being updated right now',
      message:
        "Another sign-in or the automatic renewal is updating this marketplace's token, so the service did not complete your sign-in. Your sign-in was not used, and nothing changed.",
      todo: `Start again from the start page in ${waitOf(err, 'a minute')}.`,
    }),
  },
};

/** The wait an error asks for, in words a person reads ("6 seconds", "2 minutes"). */
function waitOf(err: AppError, otherwise = 'a few seconds'): string {
  const ms = err.retry.retryAfterMs;
  if (ms === undefined) return otherwise;
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

const notThisSignIn: DescribedError = {
  title: 'Sign-in could not be verified',
  message: 'This answer from Microsoft does not belong to a sign-in started in this browser, or it was already used.',
  todo: 'Start again from the start page. Sign-ins in several tabs are fine; each must finish in the browser that started it.',
};

/**
 * Which account and tenant Microsoft signed in, on every refusal after a sign-in: an admin who
 * picked the wrong account in Microsoft's account picker sees it at once. Never a token.
 */
function signedInAs(err: AppError): Html | undefined {
  const who = err.signedInAs;
  if (!who || (who.account === undefined && who.tenant === undefined)) return undefined;
  return html`<p id="signed-in-as">Signed in as <strong>${who.account ? nowrap(who.account) : 'an account without a sign-in name'}</strong>${
    who.tenant ? html` (tenant <code>${who.tenant}</code>)` : ''
  }. If that is not the account you meant, sign in again and pick the right one in Microsoft's account picker.</p>`;
}

/**
 * After an MFA refusal: a same-origin POST to the start page with `prompt=login`, so Entra asks for
 * credentials again instead of reusing the session that signed in without MFA (shared/signIn/begin.ts).
 */
function signInAgain(err: AppError): Html | '' {
  if (err.marketplace === undefined) return '';
  return html`<form method="post" action="${startPath}" id="sign-in-again">
<input type="hidden" name="marketplace" value="${err.marketplace}">
<input type="hidden" name="prompt" value="login">
<button type="submit">Sign in again</button>
</form>`;
}

function aadstsOf(err: AppError): string {
  const aadsts = err.diagnosis().aadsts;
  return typeof aadsts === 'number' ? ` (AADSTS${aadsts})` : '';
}

/** The HTTP status of an error code; the only place that decides it. */
export function httpStatusOf(code: ErrorCode): number {
  return catalog[code].status;
}

/** What a person reads for an error. */
export function describeError(err: AppError, context: PageContext = {}): DescribedError {
  return catalog[err.code].describe(err, context);
}
