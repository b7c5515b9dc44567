import type { InvocationContext, Timer } from '@azure/functions';
import { ensureAppError } from '../../shared/errors';
import { events } from '../../shared/events';
import { logEvent } from '../../shared/log';
import { runRotation } from '../../shared/rotation/runRotation';
import { getSettings } from '../../shared/settings';

/** Timer: rotates every stored token of this environment (schedule: app setting ROTATION_SCHEDULE). */
export async function rotate(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue) logEvent(context, 'warn', events.rotationTimerPastDue, { correlationId: context.invocationId });
  try {
    await runRotation(getSettings(), context, { trigger: 'timer' });
  } catch (err) {
    const e = ensureAppError(err);
    logEvent(context, 'error', events.rotationRunFailed, { trigger: 'timer', code: e.code, correlationId: context.invocationId });
    // The configuration's own event fires for the timer as for a page (runRotation logs an unusable file itself).
    if (e.code === 'settings_invalid')
      logEvent(context, 'error', events.configurationInvalid, {
        ...e.diagnosis(),
        code: e.code,
        trigger: 'timer',
        correlationId: context.invocationId,
      });
    // Rethrow so the Functions host records the invocation as failed (visible in the portal).
    throw e;
  }
}
