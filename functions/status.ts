import { app } from '@azure/functions';
import type * as Handler from './handlers/status';
import { allMethods } from '../shared/web/requestGuards';

/** Health of every token of this environment, for a person or a tool; function key (functions/handlers/status.ts). */
// The handler is loaded by the first invocation, not at startup: a cold start compiles and runs
// only the code of the function it serves (docs/PERFORMANCE.md, "Cold start").
app.http('status', {
  route: 'status',
  methods: [...allMethods],
  authLevel: 'function',
  handler: (request, context) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (a real import() would need a '.js' path Jest cannot resolve)
    const { status } = require('./handlers/status') as typeof Handler;
    return status(request, context);
  },
});
