import { readFileSync } from 'node:fs';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

/**
 * A diagnostic baseline of `npm run bench`: hello-world that answers with the exact response of
 * the service's GET / POST /api/start (status, headers, cookie, body), recorded beforehand and
 * replayed without doing any of the service's work. Next to hello-world and the real start
 * function it splits the throughput gap into "the response itself" (headers, bytes on the wire,
 * the host's per-header work) and "the service's own code".
 *
 * BENCH_SHAPES names a JSON file: { "GET": HttpResponseInit, "POST": HttpResponseInit }.
 */
const shapes = JSON.parse(readFileSync(process.env.BENCH_SHAPES ?? '', 'utf8')) as Record<'GET' | 'POST', HttpResponseInit>;

export async function shaped(request: HttpRequest): Promise<HttpResponseInit> {
  if (request.method === 'POST') {
    // The start function reads its form body; so does its stand-in.
    await request.text();
    return shapes.POST;
  }
  return shapes.GET;
}

app.http('shaped', { route: 'shaped', methods: ['GET', 'POST'], authLevel: 'anonymous', handler: shaped });
