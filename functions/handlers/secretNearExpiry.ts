import type { InvocationContext } from '@azure/functions';
import { rotateOnNearExpiry } from '../../shared/rotation/nearExpiry';
import { runRotation } from '../../shared/rotation/runRotation';
import { getSettings } from '../../shared/settings';

/**
 * Queue trigger: Key Vault's SecretNearExpiry for a token (Event Grid writes it to the queue) rotates
 * that marketplace at once. A throw asks the queue to deliver the message again (shared/rotation/nearExpiry.ts).
 */
export async function secretNearExpiry(message: unknown, context: InvocationContext): Promise<void> {
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount);
  await rotateOnNearExpiry(message, {
    settings: getSettings,
    rotate: (settings, marketplace) => runRotation(settings, context, { trigger: 'near-expiry', marketplace }),
    logger: context,
    correlationId: context.invocationId,
    ...(Number.isInteger(dequeueCount) ? { dequeueCount } : {}),
  });
}
