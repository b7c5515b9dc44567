/** The marketplace configuration of this deployment: the file its settings name, checked against its own callback URL and secret names. */
import type { Settings } from '../settings';
import { getMarketplaceConfig, type ConfigContext, type MarketplaceConfig } from './config';

/** The name infra/app/api.bicep gives the cookie key's secret; no marketplace may use it. */
export const cookieKeySecretName = 'transaction-cookie-key';

/**
 * Names no marketplace may use whatever the settings say: the cookie key's, and the names the
 * documentation and infra/ give the service's own secrets by default (`cpv-client-secret`,
 * `connect-api-key`), which a deployment may switch on later.
 */
export const serviceSecretNames = [cookieKeySecretName, 'cpv-client-secret', 'connect-api-key'] as const;

export function configContextOf(settings: Settings): ConfigContext {
  return {
    callbackUrls: { [settings.SERVICE_ENVIRONMENT]: settings.CALLBACK_URL },
    reservedSecretNames: [...serviceSecretNames, settings.CPV_CLIENT_SECRET_NAME, settings.CONNECT_API_KEY_SECRET_NAME].filter((n): n is string =>
      Boolean(n),
    ),
  };
}

export function marketplaceConfigFor(settings: Settings): MarketplaceConfig {
  return getMarketplaceConfig(settings.MARKETPLACE_CONFIG_PATH, configContextOf(settings));
}
