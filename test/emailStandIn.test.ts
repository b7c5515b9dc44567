/**
 * The Communication Services Email stand-in answers as the REST specification (stable 2025-09-01) and Learn's
 * service limits say, for the real @azure/communication-email SDK authenticated with the real
 * ManagedIdentityCredential against a managed-identity endpoint (the Key Vault fake's): a send is accepted with
 * 202 and an Operation-Location, its status is Running and then Succeeded, a request without an Entra token for
 * Communication Services is refused, a bad message is refused, and past the limits every call gets 429 with a
 * Retry-After that is enough. Its outbox lists what it accepted, as JSON and as a page that escapes what it shows.
 */
import { randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { EmailClient } from '@azure/communication-email';
import { startEmailStandIn, type EmailStandIn, type OutboxMessage } from '../local/emailStandIn';
import { startKeyVaultFake, type KeyVaultFake } from '../local/keyVaultFake';
import { communicationServicesMailer, type Outgoing } from '../shared/notify/emailClient';
import { SendError } from '../shared/notify/sendError';
import { tlsFromEnv } from './localStandIns';
import { useIdentityEnv } from './support/identityEnv';

let identity: KeyVaultFake;
let email: EmailStandIn;
let restoreIdentityEnv: () => void;
let clock = Date.now();

beforeAll(async () => {
  identity = await startKeyVaultFake({ tls: tlsFromEnv() });
  restoreIdentityEnv = useIdentityEnv(identity.identityEnv);
  email = await startEmailStandIn({ tls: tlsFromEnv(), now: () => clock });
});
afterAll(async () => {
  restoreIdentityEnv();
  await email.close();
  await identity.close();
});
beforeEach(() => {
  email.reset();
  clock = Date.now();
});

const message = (over: Partial<Outgoing> = {}): Outgoing => ({
  from: 'DoNotReply@notify.contoso.example.com',
  to: ['admin@fabrikam.example.com'],
  subject: 'Action needed',
  text: 'Open https://app.example.com/api/start?marketplace=MP-12345',
  operationId: randomUUID(),
  ...over,
});

async function raw(path: string, init: RequestInit = {}, token?: string) {
  const res = await fetch(`${email.url}${path}`, {
    ...init,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: (() => {
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    })(),
  };
}

const token = async () => (await new ManagedIdentityCredential().getToken('https://communication.azure.com//.default')).token;
const sendBody = (m: Outgoing) =>
  JSON.stringify({
    senderAddress: m.from,
    content: { subject: m.subject, plainText: m.text },
    recipients: { to: m.to.map((address) => ({ address })) },
  });

describe('send and status, through the real SDK with the managed identity', () => {
  it('accepts a message (202, Operation-Location), answers its status Running then Succeeded, and keeps it in the outbox', async () => {
    const mailer = communicationServicesMailer(email.url, new ManagedIdentityCredential());
    const m = message();
    const { operationId } = await mailer(m);
    // The Operation-Id the service chose is the operation's id.
    expect(operationId).toBe(m.operationId);
    // beginSend posts once and asks for the status once; nothing polls it to completion.
    expect(email.stats).toMatchObject({ sends: 1, statusCalls: 1, throttled: 0, unauthorized: 0 });
    expect(email.outbox()).toEqual([expect.objectContaining({ from: m.from, to: m.to, subject: m.subject, text: m.text })]);
    // Polling on to completion (what the service does not do) ends Succeeded.
    const poller = await new EmailClient(email.url, new ManagedIdentityCredential()).beginSend(
      {
        senderAddress: m.from,
        content: { subject: 'again', plainText: 'x' },
        recipients: { to: [{ address: m.to[0]! }] },
      },
      { updateIntervalInMs: 10 },
    );
    expect(await poller.pollUntilDone()).toEqual(expect.objectContaining({ status: 'Succeeded' }));
  });

  it('refuses a request without a Communication Services token (401), with one for another resource, and without api-version (400)', async () => {
    const m = message();
    expect(
      (await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(m), headers: { 'content-type': 'application/json' } }))
        .status,
    ).toBe(401);
    const vaultToken = (await new ManagedIdentityCredential().getToken('https://vault.azure.net/.default')).token;
    expect((await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(m) }, vaultToken)).status).toBe(401);
    const missing = await raw('/emails:send', { method: 'POST', body: sendBody(m) }, await token());
    expect(missing.status).toBe(400);
    expect(missing.headers.get('x-ms-error-code')).toBe('MissingApiVersionParameter');
    expect(email.outbox()).toEqual([]);
  });

  it('refuses a message without a subject or recipients, or with more than 50 recipients (400 with the error shape of the specification)', async () => {
    const t = await token();
    const noSubject = await raw(
      '/emails:send?api-version=2025-09-01',
      {
        method: 'POST',
        body: JSON.stringify({ senderAddress: 'a@b.example.com', content: {}, recipients: { to: [{ address: 'c@d.example.com' }] } }),
      },
      t,
    );
    expect(noSubject.status).toBe(400);
    expect(noSubject.json).toEqual({ error: { code: 'BadRequest', message: expect.any(String) } });
    const many = message({ to: Array.from({ length: 51 }, (_, i) => `admin${i}@fabrikam.example.com`) });
    expect((await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(many) }, t)).status).toBe(400);
    // The service's mailer reads such a refusal as final: waiting does not change it.
    await expect(communicationServicesMailer(email.url, new ManagedIdentityCredential())(many)).rejects.toMatchObject({
      kind: 'refused',
      status: 400,
    });
    expect(email.outbox()).toEqual([]);
  });

  it('a Failed operation is a refusal the service sees, and its message is not delivered', async () => {
    email.setFault({ kind: 'operation-failed', code: 'EmailDroppedAllRecipientsSuppressed' });
    const err = await communicationServicesMailer(email.url, new ManagedIdentityCredential())(message()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ kind: 'refused', code: 'EmailDroppedAllRecipientsSuppressed' });
    expect(email.outbox()).toEqual([]);
  });
});

describe("Learn's limits: per subscription, by the sender's domain", () => {
  it('an Azure-managed domain: the sixth send in a minute gets 429 with a Retry-After that is enough, and that call counted too', async () => {
    const t = await token();
    const managed = message({ from: 'DoNotReply@0b7c1f5e.azurecomm.net' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(managed) }, t)).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
    const refused = await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(managed) }, t);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ms-error-code')).toBe('TooManyRequests');
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    // Once that wait is over the next call goes through: the refused calls counted, and the wait covers them.
    clock += wait * 1000;
    // The hour's window still holds the seven calls of the first minute, refused ones included: three more fit.
    const after: number[] = [];
    for (let i = 0; i < 3; i++) after.push((await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(managed) }, t)).status);
    expect(after).toEqual([202, 202, 202]);
    // The service's mailer reads the next 429 as throttled, with the hour's wait.
    const err = await communicationServicesMailer(email.url, new ManagedIdentityCredential())(managed).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'throttled', status: 429 });
    expect((err as SendError).retryAfterMs).toBeGreaterThan(3_000_000);
  });

  it('an Azure-managed domain: ten an hour, whatever the minutes', async () => {
    const t = await token();
    const managed = message({ from: 'DoNotReply@0b7c1f5e.azurecomm.net' });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(managed) }, t)).status);
      clock += 61_000;
    }
    expect(statuses.filter((s) => s === 202)).toHaveLength(10);
    expect(statuses[10]).toBe(429);
  });

  it('a custom domain: thirty a minute', async () => {
    const t = await token();
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++)
      statuses.push((await raw('/emails:send?api-version=2025-09-01', { method: 'POST', body: sendBody(message()) }, t)).status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(30);
    expect(statuses[30]).toBe(429);
  });
});

describe('the outbox', () => {
  it('lists what was accepted as JSON (to, subject, text, sentAt) and as a page that escapes what it shows and links what is a link', async () => {
    const mailer = communicationServicesMailer(email.url, new ManagedIdentityCredential());
    await mailer(message({ subject: '<script>alert(1)</script>' }));
    const list = (await raw('/_local/outbox')).json as unknown as OutboxMessage[];
    expect(list).toEqual([
      {
        from: 'DoNotReply@notify.contoso.example.com',
        to: ['admin@fabrikam.example.com'],
        subject: '<script>alert(1)</script>',
        text: expect.stringContaining('https://'),
        sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    ]);
    const page = await raw('/_local/outbox.html');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('&#60;script&#62;');
    expect(page.text).toContain('<a href="https://app.example.com/api/start?marketplace=MP-12345">');
    expect((await raw('/_local/outbox', { method: 'DELETE' })).status).toBe(200);
    expect((await raw('/_local/outbox')).json).toEqual([]);
  });
});
