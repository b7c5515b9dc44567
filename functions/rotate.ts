import { app } from '@azure/functions';
import type * as Handler from './handlers/rotate';

/** Timer: rotates every stored token of this environment, schedule ROTATION_SCHEDULE (functions/handlers/rotate.ts). */
// The handler is loaded by the first invocation, not at startup: a cold start compiles and runs
// only the code of the function it serves (docs/PERFORMANCE.md, "Cold start").
// runOnStartup stays off (docs/SECURITY.md 23): every cold start would otherwise rotate everything.
app.timer('rotate', {
  schedule: '%ROTATION_SCHEDULE%',
  runOnStartup: false,
  handler: (timer, context) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose (a real import() would need a '.js' path Jest cannot resolve)
    const { rotate } = require('./handlers/rotate') as typeof Handler;
    return rotate(timer, context);
  },
});
