import { app } from '@azure/functions';
import type * as Handler from './handlers/callback';
import { allMethods } from '../shared/web/requestGuards';

/** Microsoft redirects here: verify the transaction, redeem the code, prove and store the token, show it once (functions/handlers/callback.ts). */
// The handler is loaded by the first invocation, not at startup: a cold start compiles and runs
// only the code of the function it serves (docs/PERFORMANCE.md, "Cold start").
app.http('callback', {
  route: 'callback',
  methods: [...allMethods],
  authLevel: 'anonymous',
  handler: (request, context) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (a real import() would need a '.js' path Jest cannot resolve)
    const { callback } = require('./handlers/callback') as typeof Handler;
    return callback(request, context);
  },
});
