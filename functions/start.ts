import { app } from '@azure/functions';
import type * as Handler from './handlers/start';
import { allMethods } from '../shared/web/requestGuards';

/** GET: the form. POST: validate the marketplace ID, seal a transaction, redirect to Microsoft sign-in (functions/handlers/start.ts). */
// The handler is loaded by the first invocation, not at startup: a cold start compiles and runs
// only the code of the function it serves (docs/PERFORMANCE.md, "Cold start").
app.http('start', {
  route: 'start',
  methods: [...allMethods],
  authLevel: 'anonymous',
  handler: (request, context) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (a real import() would need a '.js' path Jest cannot resolve)
    const { start } = require('./handlers/start') as typeof Handler;
    return start(request, context);
  },
});
