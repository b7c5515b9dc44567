/**
 * One writer per token, across every instance and trigger (docs/SECURITY.md 33): a lease on a
 * blob of the app's own storage account, as the Functions host keeps a timer single. A lease
 * expires by itself when its holder dies (at most `leaseSeconds` after the last renewal), is
 * renewed while held, and is released in `finally`. Pure: the blob calls are behind `LeaseBlobs`
 * (shared/storage/blobLeases.ts).
 */
import { AppError } from '../errors';
import { realSleep, type Sleep } from '../retry';
import type { Environment } from '../settings';

/**
 * How long a lease lives without renewal: the shortest Azure allows (15–60 s, or infinite). A
 * crashed holder blocks its token for at most this long.
 */
export const leaseSeconds = 15;
/** Renewed well before it could lapse, even if one renewal is slow or fails once. */
const renewEveryMs = 5_000;

/** The blob operations a lease needs (Azure Blob Storage's Lease Blob). */
export interface LeaseBlobs {
  /** Acquires a lease of `seconds` on `name` (creating the blob if needed); the lease id, or undefined when another holds it. */
  acquire(name: string, seconds: number): Promise<string | undefined>;
  /** Renews; false when the lease is no longer ours (it lapsed and another took it). */
  renew(name: string, leaseId: string): Promise<boolean>;
  release(name: string, leaseId: string): Promise<void>;
}

/** A held lease. `held` turns false if a renewal finds the lease gone; writers check it before each write. */
export interface Lease {
  readonly name: string;
  readonly held: boolean;
  /** Throws `lease_lost` when the lease is no longer held: the caller must not write. */
  assertHeld(): void;
  release(): Promise<void>;
}

/** The blob name of a token's lease. Only ever built from a validated marketplace ID. */
export function tokenLeaseName(environment: Environment, marketplace: string): string {
  return `${environment}/${marketplace}`;
}

export class TokenLocks {
  /** Leases held by this process, renewed on a timer until released or dropped. */
  private readonly live = new Set<HeldLease>();

  constructor(
    private readonly blobs: LeaseBlobs,
    private readonly o: { sleep?: Sleep; renewEveryMs?: number } = {},
  ) {}

  /** The lease on a token, or undefined when another writer holds it now. */
  async tryAcquire(environment: Environment, marketplace: string): Promise<Lease | undefined> {
    const name = tokenLeaseName(environment, marketplace);
    const askedAt = Date.now();
    const id = await this.blobs.acquire(name, leaseSeconds);
    if (id === undefined) return undefined;
    const lease = new HeldLease(name, id, askedAt, this.blobs, this.o.renewEveryMs ?? renewEveryMs, () => this.live.delete(lease));
    this.live.add(lease);
    return lease;
  }

  /**
   * The lease, waiting up to `waitMs` for another writer to finish (polling, with jitter); undefined
   * when it is still held then. A person waits on this, so the wait is short and bounded.
   */
  async acquireWithin(environment: Environment, marketplace: string, waitMs: number): Promise<Lease | undefined> {
    const sleep = this.o.sleep ?? realSleep;
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      const lease = await this.tryAcquire(environment, marketplace);
      if (lease) return lease;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await sleep(Math.min(left, 200 + Math.min(attempt, 4) * 150 + Math.random() * 100));
    }
  }

  /**
   * Stops renewing every lease of this process without releasing it: what a crash does. Tests use
   * it to play a dying instance; the leases lapse by themselves.
   */
  abandonAll(): void {
    for (const lease of [...this.live]) lease.abandon();
  }
}

/** A lease counts as held only this long after Storage last confirmed it (acquire or renewal): a margin before it could lapse. */
const trustedForMs = leaseSeconds * 1000 - 3_000;

class HeldLease implements Lease {
  private lost = false;
  private done = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly name: string,
    private readonly id: string,
    /** When Storage last confirmed the lease: the acquire's request time, then each renewal's. */
    private confirmedAt: number,
    private readonly blobs: LeaseBlobs,
    renewMs: number,
    private readonly forget: () => void,
  ) {
    this.timer = setInterval(() => void this.renew(), renewMs);
    // A lease never keeps a process alive (a crashed run's lease must lapse, not be renewed).
    this.timer.unref();
  }

  /**
   * False once a renewal found the lease taken, and also when no renewal has confirmed it for
   * nearly a lease's life (a stalled process): then another instance may hold it already.
   */
  get held(): boolean {
    return !this.lost && !this.done && Date.now() - this.confirmedAt < trustedForMs;
  }

  assertHeld(): void {
    if (!this.held) throw new AppError('lease_lost', `The lease on ${this.name} is no longer held`, { retry: { transient: true } });
  }

  private async renew(): Promise<void> {
    if (!this.held) return;
    try {
      const at = Date.now();
      if (await this.blobs.renew(this.name, this.id)) this.confirmedAt = at;
      else this.lost = true;
    } catch {
      // One failed renewal is not a lost lease: it has 15 s and the next renewal comes in 5.
    }
  }

  abandon(): void {
    clearInterval(this.timer);
    this.done = true;
    this.forget();
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.abandon();
    // A release that fails leaves the lease to lapse by itself within 15 s: nothing else to do.
    await this.blobs.release(this.name, this.id).catch(() => undefined);
  }
}
