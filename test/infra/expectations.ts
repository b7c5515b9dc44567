/**
 * What the infra tests expect of the templates, derived from the code where the code has it:
 * event names from shared/events.ts, token secret names from shared/secrets/store.ts, the
 * near-expiry queue from shared/rotation/nearExpiryEvent.ts.
 */
import { events } from '../../shared/events';
import { nearExpiryQueueName as appNearExpiryQueueName } from '../../shared/rotation/nearExpiryEvent';
import { tokenSecretName } from '../../shared/secrets/store';
import type { Value } from './arm';

/** The events an operator must hear about: one alert each, firing on a single line. */
export const alertedEvents = [
  events.rotationRunFailed,
  events.tokenNeedsReauth,
  events.invalidClient,
  events.connectSyncFailed,
  events.configurationInvalid,
  events.credentialExpiring,
  events.tokenNeedsAttention,
  events.tokenNotConfigured,
  events.secretNearExpiryReceived,
  events.secretNearExpiryDropped,
  events.notificationFailed,
];

/** Alerted events split into one alert per value of a field (what the operator must know to act). */
export const alertSplits: Partial<Record<string, string>> = {
  [events.tokenNeedsReauth]: 'marketplace',
  [events.tokenNeedsAttention]: 'marketplace',
  [events.tokenNotConfigured]: 'marketplace',
  [events.connectSyncFailed]: 'marketplace',
  [events.credentialExpiring]: 'credential',
  [events.secretNearExpiryReceived]: 'marketplace',
  [events.secretNearExpiryDropped]: 'reason',
  [events.notificationFailed]: 'marketplace',
};

/**
 * What the Functions host logs, as a Warning, when it moves a message it failed on `maxDequeueCount`
 * times to the poison queue (Azure/azure-sdk-for-net, the Storage Queues extension's
 * QueueProcessor.CopyMessageToPoisonQueueAsync: "Message has reached MaxDequeueCount of {0}. Moving
 * message to queue '{1}'.").
 */
export function poisonLine(queueName: string, maxDequeueCount: number): string {
  return `Message has reached MaxDequeueCount of ${maxDequeueCount}. Moving message to queue '${queueName}-poison'.`;
}

/** The start shared by every refresh-token secret name, whatever the environment and marketplace. */
export const tokenSecretPrefix = ((a: string, b: string) => {
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return a.slice(0, n);
})(tokenSecretName('MP-00001', 'test'), tokenSecretName('MP-99999', 'production'));

/** The queue the app's near-expiry trigger reads (app.storageQueue in functions/secretNearExpiry.ts). */
export const nearExpiryQueueName = appNearExpiryQueueName;

/** Fields of RotationRunCompleted (shared/rotation.ts) the workbook's run table shows. */
const runFields = ['total', 'rotated', 'transient', 'needsReauth', 'invalidClient', 'storeFailed', 'skipped', 'notReached', 'failed'];

/** The workbook's sections (item names in infra/app/workbook.json) and the events each reads. */
export const workbookSections: Record<string, { events: string[]; fields?: string[] }> = {
  'tokens-by-days-left': { events: [events.tokenVerified, events.tokenGenerated], fields: ['marketplace'] },
  'last-runs': { events: [events.rotationRunCompleted, events.rotationRunFailed], fields: runFields },
  'failures-by-class': { events: [events.rotationTokenFailed, events.tokenNeedsReauth], fields: ['class'] },
  'connect-sync': { events: [events.connectSyncCompleted, events.connectSyncPending, events.connectSyncFailed], fields: ['marketplace'] },
  'needs-a-person': { events: [events.tokenNeedsReauth, events.tokenNeedsAttention], fields: ['marketplace', 'reason'] },
};

/** A test environment as docs/DEPLOY.md first provisions it: no CPV app yet, no receivers. */
export const testParameters: Record<string, Value> = {
  environmentName: 'connect-ms-auth-test',
  serviceEnvironment: 'test',
  principalId: 'b0b00000-0000-4000-8000-000000000001',
};

/** Production with its CPV app, an e-mail receiver, and its own sender domain verified (docs/DEPLOY.md). */
export const productionParameters: Record<string, Value> = {
  environmentName: 'connect-ms-auth-production',
  serviceEnvironment: 'production',
  cpvClientId: 'c0c00000-0000-4000-8000-0000000000c1',
  alertEmailAddresses: ['ops@example.com'],
  emailCustomDomain: 'notify.contoso.example.com',
  emailCustomDomainVerified: true,
};
