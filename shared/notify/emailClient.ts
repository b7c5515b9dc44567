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
import type { Message } from './message';
import { SendError, sendErrorOf } from './sendError';

export interface Outgoing extends Message {
  from: string;
  to: string[];
  /** Our id for the operation (a UUID), sent as Operation-Id: the same in our records and in Communication Services' logs. */
  operationId: string;
}

/** Sends one message; resolves once Communication Services accepted it, with its operation id. */
export type Mailer = (message: Outgoing) => Promise<{ operationId: string }>;

/** No call outlives this: a rotation run waits for it. */
const requestTimeoutMs = 15_000;

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
