/** The structured events the functions of a host logged (one JSON object per line), parsed: what the alerts query. */
export interface LoggedLine {
  functionName: string;
  message: string;
}

/** Every event named `event` in `logs`, parsed; the host's own lines and anything not JSON are left out. */
export function eventsIn(logs: readonly LoggedLine[], event: string): Record<string, unknown>[] {
  return logs
    .filter((l) => l.functionName !== 'host')
    .flatMap((l) => {
      try {
        return [JSON.parse(l.message) as Record<string, unknown>];
      } catch {
        return [];
      }
    })
    .filter((e) => e.event === event);
}
