/** When the rotation timer fires next, from its NCRONTAB schedule (six fields, seconds first, UTC as the Functions host runs it). */
import type * as Croner from 'croner';

let croner: typeof Croner | undefined;

export function nextRunOf(schedule: string, after: Date): Date | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose: only the status page needs it, never the start page's cold start
  croner ??= require('croner') as typeof Croner;
  try {
    return new croner.Cron(schedule, { timezone: 'UTC', paused: true }).nextRun(after) ?? undefined;
  } catch {
    // An unreadable schedule is the timer's problem to report (the host refuses it at start-up); the page says "unknown".
    return undefined;
  }
}
