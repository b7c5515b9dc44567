/** The permissions the service asks Entra for. */
/** Delegated Partner Center permission; the refresh token is issued for this resource. */
export const partnerCenterScope = 'https://api.partnercenter.microsoft.com/user_impersonation';
/** Scopes requested at sign-in: offline_access is what makes Entra return a refresh token. */
export const signInScopes = [partnerCenterScope, 'offline_access', 'openid', 'profile'];
