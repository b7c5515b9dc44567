/**
 * The people in each simulated directory: the three accounts the sign-in page's **Account** select offers.
 * Everything is derived from the tenant id, so the same tenant always has the same users (across restarts,
 * tests and processes), and a stand-in that needs to know them (Partner Center's roles) can compute them too.
 */
import { guidFrom } from './ids';
import type { AccountKind, SimulatedAccount } from './types';

/** The select's options, in page order; the first is the default. Labels are part of the local-mode contract. */
export const ACCOUNT_CHOICES: readonly { kind: AccountKind; label: string }[] = [
  { kind: 'adminAgent', label: 'Admin agent' },
  { kind: 'noPartnerCenterRole', label: 'User without a Partner Center role' },
  { kind: 'guest', label: 'Guest user' },
];

export function isAccountKind(value: string | null | undefined): value is AccountKind {
  return ACCOUNT_CHOICES.some((c) => c.kind === value);
}

/** The guest's home organization: a B2B guest is someone from another tenant invited into this one. */
export const GUEST_HOME_DOMAIN = 'contoso.com';
export const GUEST_HOME_TENANT = guidFrom(`tenant:${GUEST_HOME_DOMAIN}`);

/** One account of a tenant's directory. The admin agent keeps the identity the simulator has always signed in. */
export function accountFor(tenant: string, kind: AccountKind = 'adminAgent'): SimulatedAccount {
  const t = tenant.toLowerCase();
  const short = t.slice(0, 8);
  const domain = `${short}.example`;
  switch (kind) {
    case 'adminAgent':
      return {
        kind,
        username: `admin@${domain}`,
        upn: `admin@${domain}`,
        name: `Simulated Admin ${short}`,
        givenName: 'Simulated',
        familyName: `Admin ${short}`,
        oid: guidFrom(`user:${t}`),
        tenant: t,
        guest: false,
      };
    case 'noPartnerCenterRole':
      return {
        kind,
        username: `user@${domain}`,
        upn: `user@${domain}`,
        name: `Simulated User ${short}`,
        givenName: 'Simulated',
        familyName: `User ${short}`,
        oid: guidFrom(`user-without-role:${t}`),
        tenant: t,
        guest: false,
      };
    case 'guest': {
      const home = `someone@${GUEST_HOME_DOMAIN}`;
      // Entra names an invited guest <mail with @ replaced by _>#EXT#@<the inviting tenant's domain>.
      return {
        kind,
        username: home,
        upn: `${home.replace('@', '_')}#EXT#@${domain}`,
        name: 'Someone (Contoso guest)',
        givenName: 'Someone',
        familyName: 'Guest',
        oid: guidFrom(`guest:${t}`),
        tenant: t,
        guest: true,
        homeTenant: GUEST_HOME_TENANT,
      };
    }
  }
}

/** All three accounts of a tenant, in the order of the select. */
export function accountsOf(tenant: string): SimulatedAccount[] {
  return ACCOUNT_CHOICES.map((c) => accountFor(tenant, c.kind));
}

/**
 * The Partner Center roles each simulated account holds in its partner organization: only the admin agent has
 * one. The Partner Center stand-in uses this as its default role directory.
 */
export function partnerCenterRolesOf(tenant: string, objectId: string): string[] {
  return accountFor(tenant, 'adminAgent').oid === objectId.toLowerCase() ? ['AdminAgent'] : [];
}

/**
 * `amr` of a sign-in. With MFA the account used a password and a second factor. "Without MFA" stands for an
 * account whose federated identity provider does not pass the MFA claim to Entra: the sign-in is `fed` only,
 * even when the request asked for MFA.
 */
export function amrOf(withoutMfa: boolean): string[] {
  return withoutMfa ? ['fed'] : ['pwd', 'mfa'];
}
