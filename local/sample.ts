/**
 * Local mode's sample world: two marketplaces, the apps and secrets behind them. The GUIDs are
 * made up for local mode; none is a real tenant or application.
 */
export const localTenants = {
  /** MP-00001's partner tenant (CSP: the distributor's own app). */
  csp: '0b7c1f5e-0000-4000-8000-000000000001',
  /** MP-00002's partner tenant (CPV: has not yet consented to the CPV app). */
  cpv: '0b7c1f5e-0000-4000-8000-000000000002',
};

/**
 * `cpv` stands for the CPV application of the Connect Microsoft connector (CloudBlue's multi-tenant
 * app): in Azure, CPV_CLIENT_ID is that application, never one registered for this service, because
 * a refresh token works only for the application that obtained it (docs/DEPLOY.md step 2).
 */
export const localApps = {
  cpv: { clientId: 'c9f00000-0000-4000-8000-00000000c9f0', secretName: 'cpv-client-secret' },
  csp: { clientId: 'c5900000-0000-4000-8000-00000000c590', secretName: 'partner-secret-MP-00001' },
};

/**
 * The Function App's managed identity in local mode, in the CPV application's home tenant (a
 * federated credential requires it there): the CPV app trusts it as a federated identity
 * credential, so this deployment holds no secret of it at all. The
 * Key Vault fake's managed-identity endpoint hands out its tokens (local/main.ts).
 */
export const localIdentity = {
  homeTenant: '0b7c1f5e-0000-4000-8000-0000000000e0',
  principalId: '0b7c1f5e-0000-4000-8000-0000000051d0',
  clientId: '0b7c1f5e-0000-4000-8000-00000000c11d',
};

/** Local mode's Connect stand-in: one product holding MP-00001's token, and the vault secret of its API key. */
export const localConnect = {
  product: 'PRD-000-000-001',
  apiKeySecretName: 'connect-api-key',
};

/**
 * Who hears about each sample marketplace's token (`contacts_{env}`), and the sender local mode
 * sends from: an Azure-managed domain's shape, as the test environment has, with its limits. The
 * addresses are on reserved names (RFC 2606); nothing is delivered anywhere but the stand-in's outbox.
 */
export const localContacts = { csp: 'admin@mp-00001.example.com', cpv: 'admin@mp-00002.example.com' };
export const localSender = 'DoNotReply@local-mode.azurecomm.net';

export function sampleMarketplaces(callbackUrl: string): unknown {
  return {
    marketplaces: [
      {
        id: 'MP-00001',
        name: 'Sample distributor (CSP, own Entra app)',
        model: 'CSP',
        partner_tenant_id_test: localTenants.csp,
        partner_tenant_id_production: localTenants.csp,
        partner_client_id_test: localApps.csp.clientId,
        partner_client_id_production: localApps.csp.clientId,
        partner_client_secret_test: localApps.csp.secretName,
        partner_client_secret_production: localApps.csp.secretName,
        redirect_uri_test: callbackUrl,
        redirect_uri_production: callbackUrl,
        // Pushed to the Connect stand-in after generation and every rotation.
        connect_products_test: [localConnect.product],
        connect_products_production: [localConnect.product],
        // What a person calls the product; the pages show it with its ID.
        connect_product_names: { [localConnect.product]: 'Microsoft 365 (sample product)' },
        contacts_test: [localContacts.csp],
        contacts_production: [localContacts.csp],
      },
      {
        id: 'MP-00002',
        name: "Sample distributor (CPV: the connector's CPV application, consent not yet granted)",
        model: 'CPV',
        partner_tenant_id_test: localTenants.cpv,
        partner_tenant_id_production: localTenants.cpv,
        contacts_test: [localContacts.cpv],
        contacts_production: [localContacts.cpv],
      },
    ],
  };
}
