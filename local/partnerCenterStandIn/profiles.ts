/**
 * The partner organizations the stand-in knows: every partner tenant has an organization profile, shaped like
 * Partner Center's `GET /v1/profiles/organization` answer, with a company name that can be set per tenant.
 */
import { createHash } from 'node:crypto';

export interface OrganizationProfile {
  id: string;
  companyName: string;
  defaultAddress: Record<string, string>;
  tenantId: string;
  domain: string;
  email: string;
  language: string;
  culture: string;
  profileType: 'organization_profile';
  links: { self: { uri: string; method: string; headers: unknown[] } };
  attributes: { etag: string; objectType: 'OrganizationProfile' };
}

/** The name a partner has when nobody set one: recognizable as simulated, and distinct per tenant. */
export function defaultCompanyName(tenantId: string): string {
  return `Simulated Partner ${tenantId.slice(0, 8)}`;
}

export function organizationProfile(tenantId: string, companyName: string): OrganizationProfile {
  const t = tenantId.toLowerCase();
  const short = t.slice(0, 8);
  const digest = createHash('sha256').update(`organization:${t}:${companyName}`).digest('hex');
  return {
    id: `${digest.slice(0, 8)}-${digest.slice(8, 12)}-4${digest.slice(13, 16)}-8${digest.slice(17, 20)}-${digest.slice(20, 32)}`,
    companyName,
    defaultAddress: {
      country: 'DE',
      city: 'Berlin',
      state: '',
      addressLine1: 'Beispielstraße 1',
      addressLine2: '',
      postalCode: '10115',
      firstName: 'Simulated',
      lastName: 'Admin',
      phoneNumber: '',
    },
    tenantId: t,
    domain: `${short}.example`,
    email: `admin@${short}.example`,
    language: 'en',
    culture: 'en-US',
    profileType: 'organization_profile',
    links: { self: { uri: '/profiles/organization', method: 'GET', headers: [] } },
    // The etag changes with the profile, as Partner Center's does.
    attributes: { etag: digest.slice(32, 48), objectType: 'OrganizationProfile' },
  };
}
