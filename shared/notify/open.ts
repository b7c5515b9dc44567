/**
 * Whether this deployment tells marketplace contacts at all, and its mailer: the Communication
 * Services SDK and the managed identity are loaded on first use only (a rotation run that has a
 * message to send), so no page's cold start and no quiet run pays for them.
 */
import type * as ManagedIdentityModule from '../identity/managedIdentity';
import type { Settings } from '../settings';
import type * as EmailClientModule from './emailClient';
import type { Mailer } from './emailClient';

/** The endpoint and the sender, when both are set (settings.ts refuses one without the other). */
export function notificationsOf(settings: Settings): { endpoint: string; sender: string } | undefined {
  const endpoint = settings.COMMUNICATION_SERVICES_ENDPOINT;
  const sender = settings.NOTIFICATION_SENDER_ADDRESS;
  return endpoint && sender ? { endpoint, sender } : undefined;
}

const mailers = new Map<string, Mailer>();

/** The mailer of these settings' resource, one per process (the SDK keeps its connection and the identity's token). */
export function openMailer(settings: Settings): Mailer {
  const on = notificationsOf(settings);
  if (!on) throw new Error('Messages to marketplace contacts are off: COMMUNICATION_SERVICES_ENDPOINT is not set');
  const key = `${on.endpoint}|${settings.AZURE_CLIENT_ID ?? ''}`;
  let mailer = mailers.get(key);
  if (!mailer) {
    /* eslint-disable @typescript-eslint/no-require-imports -- deferred on purpose: the Azure SDKs cost cold start */
    const { managedIdentityCredential } = require('../identity/managedIdentity') as typeof ManagedIdentityModule;
    const { communicationServicesMailer } = require('./emailClient') as typeof EmailClientModule;
    /* eslint-enable @typescript-eslint/no-require-imports -- only these */
    mailer = communicationServicesMailer(on.endpoint, managedIdentityCredential(settings.AZURE_CLIENT_ID));
    mailers.set(key, mailer);
  }
  return mailer;
}
