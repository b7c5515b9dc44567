/**
 * jose, loaded on first use: the start page's GET (the cold start a person waits on) never
 * needs it; sealing the sign-in cookie and reading token claims do.
 */
import type * as Jose from 'jose';

let jose: typeof Jose | undefined;

export function loadJose(): typeof Jose {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose: cold start of the start page
  jose ??= require('jose') as typeof Jose;
  return jose;
}
