/**
 * The only file that imports @azure/communication-email: one message handed to Azure
 * Communication Services Email, authenticated with the Function App's managed identity (no
 * connection string, no key). shared/notify/open.ts loads it on first use, so no page's cold
 * start pays for it.
 *
 * The SDK's `beginSend` posts the message (`POST /emails:send`, answered 202 with an
 * Operation-Location) and asks for its status once (`GET /emails/operations/{id}`). The message
 * counts as accepted on the 202: nothing here polls it to completion, which would spend the
 * status calls Communication Services limits per subscription (docs/DEPLOY.md, limits).
 */
import { EmailClient, type EmailMessage } from '@azure/communication-email';
import type { TokenCredential } from '@azure/core-auth';
import { isTransientStatus, retryAfterFromHeaders } from '../retry';
import type { Message } from './message';

export interface Outgoing extends Message {
  from: string;
  to: string[];
  /** Our id for the operation (a UUID), sent as Operation-Id: the same in our records and in Communication Services' logs. */
  operationId: string;
}

/** Sends one message; resolves once Communication Services accepted it, with its operation id. */
export type Mailer = (message: Outgoing) => Promise<{ operationId: string }>;

/**
 * Why a message was not accepted. `throttled`: 429, wait `retryAfterMs` (never a failure);
 * `unavailable`: no answer, a timeout or a 5xx, worth another try later; `refused`: any other
 * answer (the identity lacks its role, the sender's domain is not linked, a recipient refused),
 * which waiting does not change.
 */
export class SendError extends Error {
  override readonly name = 'SendError';
  constructor(
    readonly kind: 'throttled' | 'unavailable' | 'refused',
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly retryAfterMs?: number,
    options: { cause?: unknown } = {},
  ) {
    // MUST (docs/SECURITY.md 12, 35): the status and the service's error code only, never the message or an address.
    super(`Communication Services did not accept the message: ${kind}${status ? ` (HTTP ${status}${code ? `, ${code}` : ''})` : ''}`, options);
  }
}

interface RestErrorLike {
  name: string;
  code?: string;
  statusCode?: number;
  response?: { headers?: { get(name: string): string | undefined } };
}

/** No call outlives this: a rotation run waits for it. */
const requestTimeoutMs = 15_000;

/**
 * Classifies what the SDK (or its credential) threw. No HTTP status: the request never got an
 * answer (network, timeout), or the managed identity gave no token; both may work later.
 */
export function sendErrorOf(err: unknown): SendError {
  if (err instanceof SendError) return err;
  const e = err instanceof Error ? (err as Error & RestErrorLike) : undefined;
  const status = e?.name === 'RestError' ? e.statusCode : undefined;
  const headers = e?.response?.headers;
  const code = headers?.get('x-ms-error-code') ?? (e?.name === 'RestError' ? e.code : undefined);
  if (status === 429)
    return new SendError('throttled', status, code, headers ? retryAfterFromHeaders((n) => headers.get(n)) : undefined, { cause: err });
  if (status === undefined || isTransientStatus(status)) return new SendError('unavailable', status, code, undefined, { cause: err });
  return new SendError('refused', status, code, undefined, { cause: err });
}

/** The mailer of one Communication Services resource, authenticated with `credential`. */
export function communicationServicesMailer(endpoint: string, credential: TokenCredential): Mailer {
  // No SDK retries: the service decides (a 429 waits as long as its Retry-After says, in this run or the next).
  const client = new EmailClient(endpoint, credential, { retryOptions: { maxRetries: 0 } });
  return async (m) => {
    const message: EmailMessage = {
      senderAddress: m.from,
      content: { subject: m.subject, plainText: m.text },
      recipients: { to: m.to.map((address) => ({ address })) },
      // No tracking pixels or rewritten links in a message that asks a person to sign in.
      disableUserEngagementTracking: true,
    };
    // What the first answers said: once the POST is accepted (202), the message is Communication
    // Services' to deliver, whatever the one status call after it answers.
    let accepted: string | undefined;
    let failedStatus: { code?: string } | undefined;
    try {
      await client.beginSend(message, {
        operationId: m.operationId,
        abortSignal: AbortSignal.timeout(requestTimeoutMs),
        onResponse: (raw) => {
          const body = raw.parsedBody as { id?: unknown; status?: unknown; error?: { code?: unknown } } | undefined;
          if (raw.request.method === 'POST' && raw.status === 202) accepted = typeof body?.id === 'string' ? body.id : m.operationId;
          else if (raw.request.method === 'GET' && raw.status === 200 && body?.status === 'Failed')
            failedStatus = typeof body.error?.code === 'string' ? { code: body.error.code } : {};
        },
      });
    } catch (err) {
      if (failedStatus) throw new SendError('refused', undefined, failedStatus.code ?? 'Failed', undefined, { cause: err });
      if (!accepted) throw sendErrorOf(err);
    }
    if (failedStatus) throw new SendError('refused', undefined, failedStatus.code ?? 'Failed');
    return { operationId: accepted ?? m.operationId };
  };
}
