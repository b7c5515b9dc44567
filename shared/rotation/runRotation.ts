/**
 * Wires a rotation run to this process: settings, configuration, the secret store, msal-node and
 * (when CONNECT_API_KEY_SECRET_NAME is set) the Connect push; after the run, the check that warns
 * about credentials close to expiry (it runs daily with the timer). Shared by the timer and the
 * manual endpoint.
 */
import { connectPushFor } from '../connect/push';
import { retryPendingPushes } from '../connect/retryPending';
import { overallState } from '../connect/tag';
import { warnExpiringCredentials } from '../credentials/warnings';
import { redeemRefreshTokenLazy } from '../identity/lazy';
import { events } from '../events';
import { logEvent, type Logger } from '../log';
import { marketplaceConfigFor } from '../marketplaces/forSettings';
import { deliverMessages } from '../notify/deliver';
import { notificationsOf, openMailer } from '../notify/open';
import { paceFor } from '../notify/pace';
import { ensureUsable } from '../marketplaces/marketplace';
import { verifyAtPartnerCenter } from '../partnerCenter/verify';
import { openSecretStore } from '../secrets/open';
import type { Settings } from '../settings';
import { ensureAppError } from '../errors';
import { openSharedState, type SharedState } from '../storage/open';
import { purgeRuns, runRecordsTable } from '../storage/runRecords';
import { purgeUsedStates, usedStatesTable } from '../storage/usedStates';
import type { RotationSummary } from './outcomes';
import { rotateAll, type RotationOptions, type RunDeps } from './rotateAll';

export async function runRotation(settings: Settings, logger: Logger, options: RotationOptions): Promise<RotationSummary> {
  const config = marketplaceConfigFor(settings);
  if (config.fileProblem) {
    // An unusable file would skip every token as "not configured" and report success: fail loudly instead.
    logEvent(logger, 'error', events.configurationInvalid, { code: 'configuration_invalid', trigger: options.trigger });
    ensureUsable(config);
  }
  const store = await openSecretStore(settings);
  const shared = openSharedState(settings);
  // One push per run: the API key is read from the vault once per run.
  const connect = connectPushFor(settings, store, logger);
  const deps: RunDeps = {
    settings,
    config,
    store,
    shared,
    logger,
    redeem: redeemRefreshTokenLazy,
    verify: (accessToken, marketplace) =>
      verifyAtPartnerCenter({ baseUrl: settings.PARTNER_CENTER_API_URL, accessToken, marketplace: marketplace.id }),
  };
  if (connect) {
    deps.connectPendingTag = (marketplace) => connect.pendingTag(marketplace);
    deps.afterRotate = async (marketplace, token, run) => {
      const outcome = await connect.sync(marketplace, token, { trigger: 'rotate', runId: run.runId, timeLeft: run.timeLeft });
      return outcome && overallState(outcome.pushed);
    };
    deps.retryPendingSync = (tokens, run) =>
      retryPendingPushes(connect, { config, store, locks: shared.locks, environment: settings.SERVICE_ENVIRONMENT, logger }, tokens, run);
  }
  const notifications = notificationsOf(settings);
  if (notifications) {
    deps.tellContacts = (pass, run) =>
      deliverMessages(
        {
          settings,
          config,
          shared,
          logger,
          ...run,
          mailer: () => openMailer(settings),
          sender: notifications.sender,
          pace: paceFor(notifications.sender),
        },
        pass,
      );
  }
  const summary = await rotateAll(deps, options);
  await warnExpiringCredentials({ store, settings, config, logger, runId: summary.runId });
  if (options.trigger === 'timer') await purgeSharedState(shared, settings, logger, summary.runId);
  return summary;
}

/** Once a day with the timer: records nobody needs any more (used sign-in states, old runs). Best effort. */
async function purgeSharedState(shared: SharedState, settings: Settings, logger: Logger, runId: string): Promise<void> {
  const environment = settings.SERVICE_ENVIRONMENT;
  const now = Date.now();
  try {
    await purgeUsedStates(shared.table(usedStatesTable), environment, now);
    await purgeRuns(shared.table(runRecordsTable), environment, now);
  } catch (err) {
    logEvent(logger, 'warn', events.rotationTokenFailed, { runId, class: 'storage', step: 'purge', code: ensureAppError(err).code });
  }
}
