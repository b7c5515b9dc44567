/**
 * How Entra's consent pages name the permissions a request asks for: by the display strings the
 * resource publishes, never by scope URIs. A user sees the user-consent strings; the admin-consent
 * flow shows the admin-consent strings, written for the whole organization. docs/STAND-INS.md
 * names the source of each.
 */
import { OIDC_SCOPES, resourceScopes } from './scopes';

export interface PermissionText {
  /** The line shown in the list. */
  name: string;
  /** Shown under the permission (behind a chevron on Entra's page). */
  description: string;
  /** The API that publishes it. */
  api: string;
}

const known: Record<string, { user: string; admin: string; description: string; api: string }> = {
  openid: {
    user: 'Sign you in',
    admin: 'Sign users in',
    description: 'Allows users to sign in to the app with their work or school accounts.',
    api: 'Microsoft Graph',
  },
  profile: {
    user: 'View your basic profile',
    admin: "View users' basic profile",
    description: 'Allows the app to see your basic profile (name, picture, user name, email address).',
    api: 'Microsoft Graph',
  },
  email: {
    user: 'View your email address',
    admin: "View users' email address",
    description: 'Allows the app to read your primary email address.',
    api: 'Microsoft Graph',
  },
  offline_access: {
    user: 'Maintain access to data you have given it access to',
    admin: 'Maintain access to data you have given it access to',
    description: 'Allows the app to see and update the data you gave it access to, even when you are not currently using the app.',
    api: 'Microsoft Graph',
  },
  'https://graph.microsoft.com/user.read': {
    user: 'Sign you in and read your profile',
    admin: 'Sign in and read user profile',
    description: 'Allows you to sign in to the app with your organizational account and lets the app read your profile.',
    api: 'Microsoft Graph',
  },
  'https://api.partnercenter.microsoft.com/user_impersonation': {
    user: 'Access Partner Center PPE',
    admin: 'Access Partner Center PPE',
    description: 'Allows the app to call the Partner Center API as you.',
    api: 'Microsoft Partner Center',
  },
};

/**
 * The permissions of a requested scope string, in the order Entra lists them: the resource's
 * permissions first, then the OpenID ones. A scope nobody published a name for is shown as
 * requested (assumption: docs/STAND-INS.md).
 */
export function permissionsOf(scope: string, flow: 'user' | 'admin'): PermissionText[] {
  const scopes = scope.split(' ').filter(Boolean);
  const ordered = [...resourceScopes(scope), ...scopes.filter((s) => OIDC_SCOPES.has(s.toLowerCase()))];
  return [...new Set(ordered)].map((s) => {
    const k = known[s.toLowerCase()];
    return k ? { name: flow === 'admin' ? k.admin : k.user, description: k.description, api: k.api } : { name: s, description: s, api: s };
  });
}
