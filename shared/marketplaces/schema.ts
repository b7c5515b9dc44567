import * as z from '../zod';
import { looksLikeSecret } from '../randomness';
import { emailAddressSchema } from '../notify/address';
import { secretNameSchema } from '../settings';

/**
 * The marketplace configuration file. Its keys are the Connect parameter names, so an operator
 * can copy values between Connect and this file without translating:
 *
 *   { "marketplaces": [ { "id": "MP-12345", "model": "CSP",
 *       "partner_tenant_id_test": "…", "partner_client_id_test": "…",
 *       "partner_client_secret_test": "<Key Vault secret name>", "redirect_uri_test": "…", … } ] }
 *
 * Instead of `partner_client_secret_{env}`, a CSP entry may name a Key Vault certificate
 * (`partner_client_certificate_{env}`) that the distributor's app trusts.
 */

const guid = z.string().check(
  z.regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID (the Entra tenant or application ID)'),
  // The nil GUID is what a template or an unset variable leaves behind: no tenant or app has it.
  z.refine((v: string) => !/^[0-]+$/.test(v), 'is the nil GUID (all zeros): put the real Entra tenant or application ID here'),
);

// MUST: a client secret in this file is the name of a Key Vault secret, never the secret itself;
// the message says what to do instead, and never quotes the value.
const clientSecretRef = z.string().check(
  z.superRefine((value: string, ctx) => {
    if (looksLikeSecret(value)) {
      ctx.addIssue({ code: 'custom', message: 'looks like an inline client secret: store the secret in Key Vault and put the secret name here' });
    } else if (!secretNameSchema.safeParse(value).success) {
      ctx.addIssue({ code: 'custom', message: 'must be a Key Vault secret name (letters, digits and dashes, at most 127)' });
    }
  }),
);

// The same for a certificate: Key Vault certificate names follow the secret name rule, and a
// pasted PEM (spaces, '+', '/', '=') cannot pass it.
const clientCertificateRef = z.string().check(
  z.superRefine((value: string, ctx) => {
    if (!secretNameSchema.safeParse(value).success) {
      ctx.addIssue({
        code: 'custom',
        message: /BEGIN|[ +/=]/.test(value)
          ? 'looks like an inline certificate: import the certificate into Key Vault and put the certificate name here'
          : 'must be a Key Vault certificate name (letters, digits and dashes, at most 127)',
      });
    }
  }),
);

const productIdPattern = /^PRD-[0-9]{3}-[0-9]{3}-[0-9]{3}$/;
const productId = z.string().check(z.regex(productIdPattern, 'must be a Connect product ID like PRD-123-456-789'));
const connectProducts = z.array(productId).check(z.maxLength(20));

/**
 * Optional names a person reads for the Connect products of an entry (`{ "PRD-…": "Microsoft 365 NCE" }`),
 * shown on the pages beside each ID: from the file, so no page waits for a call to Connect. Plain
 * text of one line; every product named must be one the entry lists (config.ts). A problem names
 * the product only once it is a valid product ID, never another key.
 */
const connectProductNames = z.record(z.string(), z.unknown()).check(
  z.superRefine((names: Record<string, unknown>, ctx) => {
    const entries = Object.entries(names);
    if (entries.length > 40) ctx.addIssue({ code: 'custom', message: 'names at most 40 products' });
    for (const [product, name] of entries) {
      if (!productIdPattern.test(product)) {
        ctx.addIssue({ code: 'custom', message: 'has a key that is not a Connect product ID like PRD-123-456-789' });
      } else if (typeof name !== 'string' || name.length === 0 || name.length > 100 || /[\p{Cc}\p{Cf}]/u.test(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [product],
          message: 'must be plain text on one line, 1 to 100 characters (no control or invisible characters)',
        });
      }
    }
  }),
);

/** At most this many contacts per environment: one message goes to all of them (Communication Services takes 50 recipients). */
export const maxContacts = 10;

/**
 * The distributor's admins to tell when the marketplace's token needs a person or is about to
 * die (shared/notify). Addresses are compared without case: a duplicate would get two copies.
 * The message never quotes an address (docs/SECURITY.md 12 keeps addresses out of logs too).
 */
const contacts = z.array(emailAddressSchema).check(
  // One refinement, after the type: zod runs an array's checks on a value of another type too,
  // which would add "at most 10" to "must be an array" for a single address given as a string.
  z.superRefine((list: unknown, ctx) => {
    if (!Array.isArray(list)) return;
    if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'must list at least one e-mail address (or leave the key out)' });
    else if (list.length > maxContacts) ctx.addIssue({ code: 'custom', message: `must list at most ${maxContacts} e-mail addresses` });
    else if (new Set(list.map((a) => String(a).toLowerCase())).size !== list.length)
      ctx.addIssue({ code: 'custom', message: 'lists an address twice' });
  }),
);

const common = {
  id: z.string(),
  name: z.optional(z.string().check(z.maxLength(200))),
  partner_tenant_id_test: guid,
  partner_tenant_id_production: guid,
  connect_products_test: z.optional(connectProducts),
  connect_products_production: z.optional(connectProducts),
  contacts_test: z.optional(contacts),
  contacts_production: z.optional(contacts),
  connect_product_names: z.optional(connectProductNames),
};

export const cspOnly = ['partner_client_id', 'partner_client_secret', 'partner_client_certificate', 'redirect_uri'] as const;

/**
 * A CSP app proves itself with a client secret or a certificate, per environment: exactly one of
 * them is named (both would leave which one is used to chance). Runs even when other fields
 * have problems, so every problem of an entry is reported at once.
 */
function exactlyOneCredential(entry: Record<string, unknown>, ctx: z.core.$RefinementCtx): void {
  for (const env of ['test', 'production'] as const) {
    const secret = `partner_client_secret_${env}`;
    const certificate = `partner_client_certificate_${env}`;
    if (entry[secret] === undefined && entry[certificate] === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [secret],
        message: `is required for a CSP marketplace (or ${certificate}, a Key Vault certificate name)`,
      });
    } else if (entry[secret] !== undefined && entry[certificate] !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [certificate],
        message: `must not be set together with ${secret}: name either the client secret or the certificate`,
      });
    }
  }
}

export const cpvEntry = z.strictObject({ ...common, model: z.literal('CPV') });
export const cspEntry = z
  .strictObject({
    ...common,
    model: z.literal('CSP'),
    partner_client_id_test: guid,
    partner_client_id_production: guid,
    partner_client_secret_test: z.optional(clientSecretRef),
    partner_client_secret_production: z.optional(clientSecretRef),
    partner_client_certificate_test: z.optional(clientCertificateRef),
    partner_client_certificate_production: z.optional(clientCertificateRef),
    redirect_uri_test: z.url({ protocol: /^https?$/ }),
    redirect_uri_production: z.url({ protocol: /^https?$/ }),
  })
  .check(z.superRefine(exactlyOneCredential, { when: (payload) => typeof payload.value === 'object' && payload.value !== null }));

export type MarketplaceEntry = z.infer<typeof cpvEntry> | z.infer<typeof cspEntry>;
