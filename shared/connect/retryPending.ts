/**
 * The retry step of a rotation run: pushes again the pending products of tokens the run did not
 * rotate, until Connect holds each token's current version. Only `retry` products are pushed;
 * `fail` ones wait for the next rotation (or a manual POST /api/rotate) so a refused key does
 * not hammer Connect every run.
 */
import { ensureAppError } from '../errors';
import { events } from '../events';
import { logEvent, type Logger } from '../log';
import type { MarketplaceConfig } from '../marketplaces/config';
import { lookupMarketplace } from '../marketplaces/marketplace';
import { forEachBounded } from '../pacing';
import { readCurrentToken } from '../secrets/currentToken';
import type { ListedToken, SecretStore } from '../secrets/store';
import type { Environment } from '../settings';
import type { TokenLocks } from '../storage/lease';
import type { ConnectPush } from './push';
import { decodeConnectTag, overallState, type ProductSyncState } from './tag';

export interface RetryCounts {
  /** Tokens whose pending products were pushed again. */
  retried: number;
  ok: number;
  pending: number;
  failed: number;
  /** Per marketplace, the overall state after the retry. */
  results: { marketplace: string; state: ProductSyncState }[];
}

export interface RetryRun {
  runId: string;
  timeLeft: () => number;
  concurrency: number;
}

const pendingProducts = (tag: string | undefined) => [...decodeConnectTag(tag).values()].filter((p) => p.state === 'pending').map((p) => p.product);

export async function retryPendingPushes(
  push: ConnectPush,
  deps: { config: MarketplaceConfig; store: SecretStore; locks: TokenLocks; environment: Environment; logger: Logger },
  tokens: ListedToken[],
  run: RetryRun,
): Promise<RetryCounts> {
  const counts: RetryCounts = { retried: 0, ok: 0, pending: 0, failed: 0, results: [] };
  const { store, environment } = deps;
  const due = tokens.filter((t) => t.tags.status !== 'needs-reauth' && pendingProducts(t.tags.connect).length > 0);
  const margin = 2_000;
  await forEachBounded(
    due,
    run.concurrency,
    async (info) => {
      const found = lookupMarketplace(deps.config, info.marketplace, environment);
      if (found.kind !== 'found') return;
      const marketplace = found.marketplace;
      // Under the token's lease, like every push that makes a version current in Connect: a
      // sign-in or rotation holding it pushes its own, newer version; this one leaves it to them.
      let lease;
      try {
        lease = await deps.locks.tryAcquire(environment, info.marketplace);
        if (!lease) return;
        // Only the current (proven) version is ever pushed; a pending one is not yet a token that works.
        const read = await readCurrentToken(store, info.marketplace, environment);
        const token = read?.current;
        if (!token || read.staged) return;
        const pending = pendingProducts(token.tags.connect);
        if (pending.length === 0) return;
        const outcome = await push.sync(marketplace, token, { trigger: 'retry', runId: run.runId, products: pending, timeLeft: run.timeLeft });
        if (!outcome) return;
        const state = overallState(outcome.pushed);
        counts.retried++;
        counts[state]++;
        counts.results.push({ marketplace: info.marketplace, state });
      } catch (err) {
        // Store or lease failing: nothing pushed, nothing changed; the next run tries again.
        logEvent(deps.logger, 'warn', events.connectSyncPending, {
          runId: run.runId,
          marketplace: info.marketplace,
          trigger: 'retry',
          class: 'store',
          code: ensureAppError(err).code,
        });
      } finally {
        await lease?.release();
      }
    },
    () => run.timeLeft() > margin,
  );
  return counts;
}
