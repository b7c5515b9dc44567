import { app, type HttpResponseInit } from '@azure/functions';

/**
 * The baseline of `npm run bench`: the smallest HTTP function there is, packaged by
 * scripts/package.mjs and served by the local host exactly like the service's functions.
 */
export async function hello(): Promise<HttpResponseInit> {
  return { status: 200, body: 'hello' };
}

app.http('hello', { route: 'hello', methods: ['GET'], authLevel: 'anonymous', handler: hello });
