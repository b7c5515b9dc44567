/**
 * The people in each simulated directory: the five accounts the sign-in page's **Account** select offers.
 * Everything is derived from the tenant id, so the same tenant always has the same users (across restarts,
 * tests and processes), and a stand-in that needs to know them (Partner Center's roles) can compute them too.
 *
 * Two facts about each account decide what Entra and Partner Center do with it, and they are independent:
 * - `directoryAdmin`: a directory role that may consent for the whole organization (docs/STAND-INS.md,
 *   "Consent"): only the admin agent has one;
 * - `partnerCenterRoles`: the account's roles in the partner's Partner Center organization. A guest can hold
 *   one (Microsoft's MFA requirement names "all user accounts in the partner tenant, including guest users"),
 *   so Partner Center decides by role, never by guest-ness.
 */
import { guidFrom } from './ids';
import type { AccountKind, SimulatedAccount } from './types';

/** The select's options, in page order; the first is the default. Labels are part of the local-mode contract. */
export const ACCOUNT_CHOICES: readonly { kind: AccountKind; label: string }[] = [
  { kind: 'adminAgent', label: 'Admin agent' },
  { kind: 'noPartnerCenterRole', label: 'User without a Partner Center role' },
  { kind: 'guest', label: 'Guest user' },
  { kind: 'guestAdminAgent', label: 'Guest admin agent' },
  { kind: 'adminAgentNotDirectoryAdmin', label: 'Admin agent, not a directory admin' },
];

export const ACCOUNT_KINDS = ACCOUNT_CHOICES.map((c) => c.kind) as [AccountKind, ...AccountKind[]];

export function isAccountKind(value: string | null | undefined): value is AccountKind {
  return ACCOUNT_CHOICES.some((c) => c.kind === value);
}

export function accountLabel(kind: AccountKind): string {
  return ACCOUNT_CHOICES.find((c) => c.kind === kind)?.label ?? kind;
}

/** A B2B guest is someone from another tenant invited into this one; each guest comes from its own organization. */
const GUEST_HOMES = {
  guest: { mail: 'someone@contoso.com', name: 'Someone (Contoso guest)', given: 'Someone', family: 'Guest' },
  guestAdminAgent: { mail: 'agent@fabrikam.com', name: 'Agent (Fabrikam guest)', given: 'Agent', family: 'Fabrikam' },
} as const;
export const GUEST_HOME_DOMAIN = 'contoso.com';
export const GUEST_HOME_TENANT = guidFrom(`tenant:${GUEST_HOME_DOMAIN}`);
const homeTenantOf = (mail: string) => guidFrom(`tenant:${mail.slice(mail.indexOf('@') + 1)}`);

/** A member of the tenant's own directory. */
function member(
  kind: AccountKind,
  t: string,
  local: string,
  seed: string,
  family: string,
  facts: { directoryAdmin: boolean; partnerCenterRoles: string[] },
): SimulatedAccount {
  const short = t.slice(0, 8);
  const username = `${local}@${short}.example`;
  return {
    kind,
    username,
    upn: username,
    name: `Simulated ${family} ${short}`,
    givenName: 'Simulated',
    familyName: `${family} ${short}`,
    oid: guidFrom(`${seed}:${t}`),
    tenant: t,
    guest: false,
    ...facts,
  };
}

/** A guest invited into the tenant: Entra names it <mail with @ replaced by _>#EXT#@<the inviting tenant's domain>. */
function guestOf(kind: 'guest' | 'guestAdminAgent', t: string, seed: string, partnerCenterRoles: string[]): SimulatedAccount {
  const home = GUEST_HOMES[kind];
  return {
    kind,
    username: home.mail,
    upn: `${home.mail.replace('@', '_')}#EXT#@${t.slice(0, 8)}.example`,
    name: home.name,
    givenName: home.given,
    familyName: home.family,
    oid: guidFrom(`${seed}:${t}`),
    tenant: t,
    guest: true,
    homeTenant: homeTenantOf(home.mail),
    directoryAdmin: false,
    partnerCenterRoles,
  };
}

/** One account of a tenant's directory. The admin agent keeps the identity the simulator has always signed in. */
export function accountFor(tenant: string, kind: AccountKind = 'adminAgent'): SimulatedAccount {
  const t = tenant.toLowerCase();
  switch (kind) {
    case 'adminAgent':
      return member(kind, t, 'admin', 'user', 'Admin', { directoryAdmin: true, partnerCenterRoles: ['AdminAgent'] });
    case 'noPartnerCenterRole':
      return member(kind, t, 'user', 'user-without-role', 'User', { directoryAdmin: false, partnerCenterRoles: [] });
    case 'adminAgentNotDirectoryAdmin':
      return member(kind, t, 'agent', 'agent-not-directory-admin', 'Agent', { directoryAdmin: false, partnerCenterRoles: ['AdminAgent'] });
    case 'guest':
      return guestOf(kind, t, 'guest', []);
    case 'guestAdminAgent':
      return guestOf(kind, t, 'guest-admin-agent', ['AdminAgent']);
  }
}

/** All accounts of a tenant, in the order of the select. */
export function accountsOf(tenant: string): SimulatedAccount[] {
  return ACCOUNT_CHOICES.map((c) => accountFor(tenant, c.kind));
}

/**
 * The Partner Center roles an account (by object id) holds in its partner organization. The Partner Center
 * stand-in uses this as its default role directory: the admin agent, the guest admin agent and the admin agent
 * who is not a directory admin hold AdminAgent; the user without a role and the guest user hold none.
 */
export function partnerCenterRolesOf(tenant: string, objectId: string): string[] {
  const oid = objectId.toLowerCase();
  return accountsOf(tenant).find((a) => a.oid === oid)?.partnerCenterRoles ?? [];
}

/**
 * `amr` of a sign-in. With MFA the account used a password and a second factor. "Without MFA" stands for a
 * sign-in that completed without a second factor the claim can show: a tenant that does not require MFA for
 * the account, or a federated identity provider that does not pass the MFA claim to Entra (`fed` only).
 */
export function amrOf(withoutMfa: boolean): string[] {
  return withoutMfa ? ['fed'] : ['pwd', 'mfa'];
}
