/**
 * `npm run config:check [file]`: prints every problem in a marketplace configuration file
 * and exits non-zero if there is any. Run it before deploying a changed file.
 */
import { environments, type Environment } from '../settings';
import { formatProblem, readMarketplaceConfig, type ConfigContext } from './config';
import { serviceSecretNames } from './forSettings';

/**
 * What the file is checked against: `--environment test|production --callback-url URL` (or the
 * app settings SERVICE_ENVIRONMENT and CALLBACK_URL) for the deployment's redirect URI, and the
 * service's own secret names (CPV_CLIENT_SECRET_NAME, CONNECT_API_KEY_SECRET_NAME, the cookie key).
 */
export function contextOf(argv: string[], env: Record<string, string | undefined>): { path: string; context: ConfigContext; unchecked: string[] } {
  let path: string | undefined;
  let environment = env.SERVICE_ENVIRONMENT;
  let callbackUrl = env.CALLBACK_URL;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--environment') environment = argv[++i];
    else if (arg === '--callback-url') callbackUrl = argv[++i];
    else path ??= arg;
  }
  const context: ConfigContext = {
    reservedSecretNames: [...serviceSecretNames, env.CPV_CLIENT_SECRET_NAME, env.CONNECT_API_KEY_SECRET_NAME].filter((n): n is string => Boolean(n)),
  };
  if (callbackUrl && environments.includes(environment as Environment)) context.callbackUrls = { [environment as Environment]: callbackUrl };
  return { path: path ?? env.MARKETPLACE_CONFIG_PATH ?? 'config/marketplaces.json', context, unchecked: uncheckedOf(context, env) };
}

/**
 * The checks a run could not make for want of this deployment's settings, in words: a check that
 * did not run must never read as one that passed.
 */
export function uncheckedOf(context: ConfigContext, env: Record<string, string | undefined>): string[] {
  const unchecked: string[] = [];
  if (!context.callbackUrls)
    unchecked.push(
      "redirect_uri_test / redirect_uri_production were not compared with this deployment's callback URL: pass --environment test|production --callback-url URL (or set SERVICE_ENVIRONMENT and CALLBACK_URL)",
    );
  const unset = ['CPV_CLIENT_SECRET_NAME', 'CONNECT_API_KEY_SECRET_NAME'].filter((name) => !env[name]);
  if (unset.length > 0)
    unchecked.push(
      `client secret and certificate names were compared with the service's default secret names only (${serviceSecretNames.join(', ')}), not with ${unset.join(' and ')}: set ${unset.length > 1 ? 'them' : 'it'} as the deployment does`,
    );
  return unchecked;
}

/** Every problem of a file, as printed. */
export function configProblems(path: string, context: ConfigContext = contextOf([], process.env).context): string[] {
  return readMarketplaceConfig(path, context).problems.map(formatProblem);
}

/** What `npm run package` prints before packaging: the file's problems, and the checks it could not make. */
export function configCheck(path: string, env: Record<string, string | undefined> = process.env): { problems: string[]; unchecked: string[] } {
  const { context, unchecked } = contextOf([path], env);
  return { problems: configProblems(path, context), unchecked };
}

function main(argv: string[]): number {
  const { path, context, unchecked } = contextOf(argv, process.env);
  const config = readMarketplaceConfig(path, context);
  for (const problem of config.problems) console.error(`${path}: ${formatProblem(problem)}`);
  const valid = config.entries.size;
  for (const line of unchecked) console.error(`${path}: not checked: ${line}`);
  if (config.problems.length > 0) {
    console.error(`${config.problems.length} problem(s); ${valid} marketplace(s) valid.`);
    return 1;
  }
  const against = context.callbackUrls ? ` (redirect URIs checked against ${Object.values(context.callbackUrls).join(', ')})` : '';
  const partly = unchecked.length > 0 ? `; ${unchecked.length} check(s) could not run (above)` : '';
  console.log(`${path}: OK, ${valid} marketplace(s)${against}${partly}.`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
export { main };
