/**
 * Thousands of stored tokens for the status and rotation suites, without knowing the store's
 * format: the bench signs in once through the real callback, takes the secret the service wrote
 * (name, content type, tags, expiry) as a template, and seeds copies of it into the Key Vault
 * fake for other marketplaces and tenants, each with a refresh token the identity simulator
 * issued for that tenant. When the store's format changes, the copies change with it.
 */
import type { IdentitySimulator } from '../../local/identitySimulator';
import type { KeyVaultFake } from '../../local/keyVaultFake';
import { benchApp } from './servers';
import { signIn } from './signIn';
import { marketplaceOf, signInMarketplace, stopChild, tenantOf, type World } from './world';

export interface TokenTemplate {
  name: string;
  contentType?: string;
  tags: Record<string, string>;
  expiresOn?: Date;
}

/** The token secret a sign-in for signInMarketplace wrote: the one new secret whose name holds the marketplace ID. */
export function templateFrom(fake: KeyVaultFake, namesBefore: string[]): TokenTemplate {
  const added = fake.secretNames().filter((n) => !namesBefore.includes(n) && n.toLowerCase().includes(signInMarketplace.id.toLowerCase()));
  if (added.length !== 1)
    throw new Error(`expected one new token secret after the sign-in, found ${added.length}: the bench cannot copy the store's format`);
  const name = added[0] as string;
  const latest = fake.versions(name).at(-1);
  if (!latest) throw new Error(`no version of ${name}`);
  return {
    name,
    ...(latest.contentType !== undefined ? { contentType: latest.contentType } : {}),
    tags: { ...latest.tags },
    ...(latest.exp !== undefined ? { expiresOn: new Date(latest.exp * 1000) } : {}),
  };
}

const templates = new WeakMap<World, Promise<TokenTemplate>>();

/** The template, from one real sign-in through the service package (once per world). */
export function tokenTemplate(world: World): Promise<TokenTemplate> {
  let t = templates.get(world);
  if (!t) {
    t = (async () => {
      const { fake } = await world.servers();
      await world.resetVault();
      const before = fake.secretNames();
      const child = await world.serve((await world.packages()).service);
      try {
        await signIn(child.first.url, signInMarketplace.id);
      } finally {
        await stopChild(child.process);
      }
      return templateFrom(fake, before);
    })();
    templates.set(world, t);
  }
  return t;
}

/** `text` with the sign-in's marketplace ID and tenant replaced by another's, in the same letter case. */
function retarget(text: string, marketplace: string, tenant: string): string {
  const swap = (s: string, from: string, to: string) =>
    s.replace(new RegExp(from.replace(/[-]/g, '\\-'), 'gi'), (hit) =>
      hit === hit.toLowerCase() ? to.toLowerCase() : hit === hit.toUpperCase() ? to.toUpperCase() : to,
    );
  return swap(swap(text, signInMarketplace.id, marketplace), signInMarketplace.tenant, tenant);
}

export interface SeededToken {
  marketplace: string;
  tenant: string;
}

/** Seeds `count` tokens like the template (marketplaceOf(i), tenantOf(100000 + i)), each with a live refresh token at the simulator. */
export function seedTokens(fake: KeyVaultFake, simulator: IdentitySimulator, template: TokenTemplate, count: number): SeededToken[] {
  const seeded: SeededToken[] = [];
  for (let i = 0; i < count; i++) {
    const marketplace = marketplaceOf(i);
    const tenant = tenantOf(100_000 + i);
    const name = retarget(template.name, marketplace, tenant);
    if (name === template.name)
      throw new Error(`the token secret's name ${template.name} does not hold the marketplace ID: the bench cannot copy it`);
    const tags = Object.fromEntries(Object.entries(template.tags).map(([k, v]) => [k, retarget(v, marketplace, tenant)]));
    const value = simulator.issueRefreshTokenFor({ clientId: benchApp.clientId, tenant });
    fake.seed(name, value, {
      ...(template.contentType !== undefined ? { contentType: template.contentType } : {}),
      tags,
      ...(template.expiresOn ? { expiresOn: template.expiresOn } : {}),
    });
    seeded.push({ marketplace, tenant });
  }
  return seeded;
}
