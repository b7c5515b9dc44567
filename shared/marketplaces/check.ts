/**
 * `npm run config:check [file]`: prints every problem in a marketplace configuration file
 * and exits non-zero if there is any. Run it before deploying a changed file.
 */
import { formatProblem, readMarketplaceConfig } from './config';

function main(argv: string[]): number {
  const path = argv[0] ?? process.env.MARKETPLACE_CONFIG_PATH ?? 'config/marketplaces.json';
  const config = readMarketplaceConfig(path);
  for (const problem of config.problems) console.error(`${path}: ${formatProblem(problem)}`);
  const valid = config.entries.size;
  if (config.problems.length > 0) {
    console.error(`${config.problems.length} problem(s); ${valid} marketplace(s) valid.`);
    return 1;
  }
  console.log(`${path}: OK, ${valid} marketplace(s).`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
export { main };
