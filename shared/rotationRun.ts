/**
 * Wires a rotation run to this process: settings, configuration, the secret store and msal-node.
 * Shared by the timer and the manual endpoint.
 */
import { redeemRefreshTokenLazy } from './identityLazy';
import type { Logger } from './log';
import { getMarketplaceConfig } from './marketplaces';
import { rotateAll, type RotationOptions, type RotationSummary } from './rotation';
import { openSecretStore } from './secrets';
import type { Settings } from './settings';

export async function runRotation(settings: Settings, logger: Logger, options: RotationOptions): Promise<RotationSummary> {
  return rotateAll(
    {
      settings,
      config: getMarketplaceConfig(settings.MARKETPLACE_CONFIG_PATH),
      store: await openSecretStore(settings),
      logger,
      redeem: redeemRefreshTokenLazy,
    },
    options,
  );
}
