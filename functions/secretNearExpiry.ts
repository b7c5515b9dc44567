import { app } from '@azure/functions';
import type * as Handler from './handlers/secretNearExpiry';
import { nearExpiryQueueName } from '../shared/rotation/nearExpiryQueue';

/** Queue trigger: Key Vault's SecretNearExpiry for a token rotates that marketplace at once (functions/handlers/secretNearExpiry.ts). */
// The handler is loaded by the first invocation, not at startup: a cold start compiles and runs
// only the code of the function it serves (docs/PERFORMANCE.md, "Cold start").
// A queue in the app's own storage (identity-based AzureWebJobsStorage), not an Event Grid trigger:
// the HTTP functions' cold start is untouched, and the queue holds events while the app is down.
app.storageQueue('secretNearExpiry', {
  queueName: nearExpiryQueueName,
  connection: 'AzureWebJobsStorage',
  handler: (message, context) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (a real import() would need a '.js' path Jest cannot resolve)
    const { secretNearExpiry } = require('./handlers/secretNearExpiry') as typeof Handler;
    return secretNearExpiry(message, context);
  },
});
