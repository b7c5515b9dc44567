/**
 * Stand-in for `@azure/functions-core`, the module the real Azure Functions worker provides.
 * `@azure/functions` hands every `app.http` / `app.timer` registration to it; here they are
 * collected so the local host can serve the real function files unchanged. Jest maps the module
 * name here (jest.config.js); the local host does the same at run time (host.ts).
 */

export interface CoreBinding {
  type: string;
  direction: 'in' | 'out' | 'inout';
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
  runOnStartup?: boolean;
  [key: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  bindings: Record<string, CoreBinding>;
  [key: string]: unknown;
}

export type FunctionHandler = (...args: unknown[]) => unknown;

export interface Registration {
  name: string;
  trigger: CoreBinding;
  handler: FunctionHandler;
}

const registrations = new Map<string, Registration>();

export function registerFunction(metadata: CoreFunctionMetadata, handler: FunctionHandler): { dispose(): void } {
  const trigger = Object.values(metadata.bindings).find((b) => /trigger$/i.test(b.type));
  if (!trigger) throw new Error(`Function ${metadata.name} has no trigger binding`);
  if (registrations.has(metadata.name)) throw new Error(`Function ${metadata.name} registered twice`);
  registrations.set(metadata.name, { name: metadata.name, trigger, handler });
  return { dispose: () => registrations.delete(metadata.name) };
}

export function setProgrammingModel(_model: unknown): void {
  // The local host invokes handlers directly with real HttpRequest / InvocationContext objects.
}

export function getProgrammingModel(): unknown {
  return undefined;
}

export function registerHook(_hookName: string, _callback: unknown): { dispose(): void } {
  return { dispose: () => undefined };
}

export function log(level: string, category: string, message: string): void {
  if (level === 'error' || level === 'critical' || level === 'warning') console.error(`[${category}] ${message}`);
}

/** Everything registered so far, in registration order. */
export function listRegistrations(): Registration[] {
  return [...registrations.values()];
}
