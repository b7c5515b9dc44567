import { app } from '@azure/functions';
import type * as Handler from './handlers/rotateNow';
import { allMethods } from '../shared/web/requestGuards';

/** POST /api/rotate[?marketplace=MP-…]: rotate now and return the run's summary; function key (functions/handlers/rotateNow.ts). */
// The handler is loaded by the first invocation, not at startup: a cold start compiles and runs
// only the code of the function it serves (docs/PERFORMANCE.md, "Cold start").
app.http('rotateNow', {
  route: 'rotate',
  methods: [...allMethods],
  authLevel: 'function',
  handler: (request, context) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (a real import() would need a '.js' path Jest cannot resolve)
    const { rotateNow } = require('./handlers/rotateNow') as typeof Handler;
    return rotateNow(request, context);
  },
});
