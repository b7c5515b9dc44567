/**
 * Communication Services' email limits, which count per subscription (Learn, "Service limits for
 * Azure Communication Services", Email): the service paces its own sends under them, per
 * process, so a run never causes the 429s it would then have to wait out. What another process
 * or another app of the subscription sends still counts: a 429 is handled on top of this.
 */
import { SlidingWindowLimiter } from '../pacing';

/**
 * Sends per minute and per hour. An Azure-managed domain (`…azurecomm.net`, the test
 * environment) allows 5 and 10; a verified custom domain 30 and 100 until Microsoft raises them
 * on request. Each send costs one status call as well (the SDK asks once), under limits twice as
 * high (10 and 20, 60 and 200), so pacing the sends paces those too.
 */
export const emailSendLimits = {
  'azure-managed': { perMinute: 5, perHour: 10 },
  custom: { perMinute: 30, perHour: 100 },
} as const;
export type SenderDomainKind = keyof typeof emailSendLimits;

/** Azure-managed domains are subdomains of azurecomm.net; any other domain is one the operator verified. */
export function senderDomainKind(sender: string): SenderDomainKind {
  return /\.azurecomm\.net$/i.test(sender) ? 'azure-managed' : 'custom';
}

/** The two windows a send must fit in. */
export class SendPace {
  private readonly minute: SlidingWindowLimiter;
  private readonly hour: SlidingWindowLimiter;
  constructor(limits: { perMinute: number; perHour: number }, now: () => number = Date.now) {
    this.minute = new SlidingWindowLimiter(limits.perMinute, 60_000, now);
    this.hour = new SlidingWindowLimiter(limits.perHour, 3_600_000, now);
  }

  /** How long the next send must wait for both windows: 0 when it may go now. */
  waitMs(): number {
    return Math.max(this.minute.waitMs(), this.hour.waitMs());
  }

  /** Takes a slot in both windows, waiting for it. Check waitMs() first: the hour's may be far. */
  async take(): Promise<void> {
    await this.hour.acquire();
    await this.minute.acquire();
  }
}

const paces = new Map<SenderDomainKind, SendPace>();

/** The pace of this process for a sender's domain: every run of the process shares it. */
export function paceFor(sender: string): SendPace {
  const kind = senderDomainKind(sender);
  let pace = paces.get(kind);
  if (!pace) {
    pace = new SendPace(emailSendLimits[kind]);
    paces.set(kind, pace);
  }
  return pace;
}
