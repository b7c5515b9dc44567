/**
 * Wires a rotation run to this process: settings, configuration, the secret store, msal-node and
 * (when CONNECT_API_KEY_SECRET_NAME is set) the Connect push. Shared by the timer and the manual
 * endpoint.
 */
import { connectPushFor, overallState } from './connect';
import { redeemRefreshTokenLazy } from './identityLazy';
import type { Logger } from './log';
import { getMarketplaceConfig } from './marketplaces';
import { rotateAll, type RotationDeps, type RotationOptions, type RotationSummary } from './rotation';
import { openSecretStore } from './secrets';
import type { Settings } from './settings';

export async function runRotation(settings: Settings, logger: Logger, options: RotationOptions): Promise<RotationSummary> {
  const config = getMarketplaceConfig(settings.MARKETPLACE_CONFIG_PATH);
  const store = await openSecretStore(settings);
  // One push per run: the API key is read from the vault once per run.
  const connect = connectPushFor(settings, store, logger);
  const deps: RotationDeps = { settings, config, store, logger, redeem: redeemRefreshTokenLazy };
  if (connect) {
    deps.connectPendingTag = (marketplace) => connect.pendingTag(marketplace);
    deps.afterRotate = async (marketplace, token, run) => {
      const outcome = await connect.sync(marketplace, token, { trigger: 'rotate', runId: run.runId, timeLeft: run.timeLeft });
      return outcome && overallState(outcome.pushed);
    };
    deps.retryPendingSync = (tokens, run) => connect.retryPending(config, tokens, run);
  }
  return rotateAll(deps, options);
}
