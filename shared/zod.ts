/**
 * The schema library of the service: zod's tree-shakable API (`zod/mini`), with zod's English
 * messages. The classic API evaluates all of zod while the bundle loads, which `npm run bench`
 * measured as a large part of a cold start (docs/PERFORMANCE.md, "Cold start"); zod/mini brings
 * in only the schemas and checks used. zod/mini loads no locale by itself: without this, every
 * issue would read "Invalid input".
 *
 * Import it as a namespace (`import * as z from '../zod'`) and use its members directly: a
 * namespace passed around as a value would make the bundler keep all of zod.
 */
import { config, locales } from 'zod/mini';

// The deployment package keeps only English of zod's locales (scripts/package.mjs, zodEnglishOnly).
config(locales.en());

export * from 'zod/mini';
