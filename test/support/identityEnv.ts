/**
 * Points @azure/identity at a stand-in's managed-identity endpoint for one test file. The
 * credentials read these variables to choose how to sign in; any of them left over from the
 * machine (a developer's AZURE_CLIENT_SECRET, an MSI_ENDPOINT) would send the test elsewhere,
 * so every one is cleared first and put back afterwards.
 */
const identityVars = [
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_FEDERATED_TOKEN_FILE',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IMDS_ENDPOINT',
  'IDENTITY_SERVER_THUMBPRINT',
  'AZURE_TOKEN_CREDENTIALS',
];

/** Sets only `env` of the identity variables; returns what restores the machine's own. */
export function useIdentityEnv(env: Record<string, string>): () => void {
  const saved = Object.fromEntries(identityVars.map((name) => [name, process.env[name]]));
  for (const name of identityVars) delete process.env[name];
  Object.assign(process.env, env);
  return () => {
    for (const name of Object.keys(env)) delete process.env[name];
    for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
  };
}
