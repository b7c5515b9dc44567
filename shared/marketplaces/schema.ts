import * as z from 'zod';
import { secretNameSchema } from '../settings';

/**
 * The marketplace configuration file. Its keys are the Connect parameter names, so an operator
 * can copy values between Connect and this file without translating:
 *
 *   { "marketplaces": [ { "id": "MP-12345", "model": "CSP",
 *       "partner_tenant_id_test": "…", "partner_client_id_test": "…",
 *       "partner_client_secret_test": "<Key Vault secret name>", "redirect_uri_test": "…", … } ] }
 */

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID (the Entra tenant or application ID)');

// MUST: a client secret in this file is the name of a Key Vault secret, never the secret itself.
// Entra client secrets contain '~', '.' or '_', which Key Vault names cannot, so the name rule
// also catches a pasted secret; the message says what to do instead.
const clientSecretRef = z.string().superRefine((value, ctx) => {
  if (!secretNameSchema.safeParse(value).success) {
    ctx.addIssue({
      code: 'custom',
      message: /[~._]/.test(value)
        ? 'looks like an inline client secret: store the secret in Key Vault and put the secret name here'
        : 'must be a Key Vault secret name (letters, digits and dashes, at most 127)',
    });
  }
});

const connectProducts = z.array(z.string().regex(/^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/, 'must be a Connect product ID like PRD-123-456-789')).max(20);

const common = {
  id: z.string(),
  name: z.string().max(200).optional(),
  partner_tenant_id_test: guid,
  partner_tenant_id_production: guid,
  connect_products_test: connectProducts.optional(),
  connect_products_production: connectProducts.optional(),
};

export const cspOnly = ['partner_client_id', 'partner_client_secret', 'redirect_uri'] as const;

export const cpvEntry = z.strictObject({ ...common, model: z.literal('CPV') });
export const cspEntry = z.strictObject({
  ...common,
  model: z.literal('CSP'),
  partner_client_id_test: guid,
  partner_client_id_production: guid,
  partner_client_secret_test: clientSecretRef,
  partner_client_secret_production: clientSecretRef,
  redirect_uri_test: z.url({ protocol: /^https?$/ }),
  redirect_uri_production: z.url({ protocol: /^https?$/ }),
});

export type MarketplaceEntry = z.infer<typeof cpvEntry> | z.infer<typeof cspEntry>;
