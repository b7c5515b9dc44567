/**
 * The Storage queue Event Grid writes Key Vault's SecretNearExpiry events to
 * (infra/app/near-expiry.bicep) and the queue trigger reads. A module of its own, so the
 * trigger's registration names the queue without loading the event's parser at startup.
 */
export const nearExpiryQueueName = 'secret-near-expiry';
