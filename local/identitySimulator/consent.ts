/**
 * Admin consent is per scope, as in Entra: a consent records the permissions granted, and a sign-in or a refresh
 * of a multi-tenant app is let through only when every resource scope it asks for is among them. A consent for
 * one scope never covers another.
 */
import { isDefaultScope, PARTNER_CENTER_SCOPE, resourceOfScope, resourceScopes } from './scopes';
import type { SimulatedClient } from './types';

/** The permissions configured on the app registration. */
export function permissionsOf(client: SimulatedClient): string[] {
  return client.permissions ?? [PARTNER_CENTER_SCOPE];
}

/**
 * What an admin consent grants: the scopes of the consent request, where `{resource}/.default` stands for the
 * app's configured permissions on that resource; no scope at all grants every configured permission.
 */
export function scopesGrantedBy(client: SimulatedClient, requestedScope: string | null | undefined): string[] {
  const asked = resourceScopes(requestedScope ?? '');
  if (!asked.length) return permissionsOf(client);
  return asked.flatMap((s) => {
    if (!isDefaultScope(s)) return [s];
    const configured = permissionsOf(client).filter((p) => sameResource(p, s));
    return configured.length ? configured : [s];
  });
}

/** Whether the consented scopes cover every resource scope of a request (`.default` needs any consent for its resource). */
export function consentCovers(consented: readonly string[], requestedScope: string): boolean {
  const have = consented.map((s) => s.toLowerCase());
  return resourceScopes(requestedScope).every((s) => (isDefaultScope(s) ? have.some((h) => sameResource(h, s)) : have.includes(s.toLowerCase())));
}

function sameResource(a: string, b: string): boolean {
  return resourceOfScope(a).toLowerCase() === resourceOfScope(b).toLowerCase();
}
