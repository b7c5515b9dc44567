/** Tests run the TypeScript sources through SWC (no type-check here: `npm test` runs `tsc --noEmit` first). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // jose ships ES modules only; let SWC turn it into CommonJS for Jest's module system.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  // The Functions worker provides @azure/functions-core; in tests the local host's stand-in does,
  // so the real function files register with it exactly as they would in Azure.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/local/functionsCore.ts' },
  testTimeout: 30000,
};
