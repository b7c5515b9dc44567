/**
 * HTTPS on loopback for the local stand-ins that browsers and SDKs reach as `https://localhost:PORT`
 * (the identity simulator, the Partner Center stand-in): the loopback certificate names
 * "localhost", and some machines resolve it to ::1 first, so each listens on 127.0.0.1 and, best
 * effort, on ::1 with the same port.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

export async function listenLoopback(
  tls: { cert: string | Buffer; key: string | Buffer },
  port: number,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ servers: Server[]; port: number }> {
  const make = () => createServer({ cert: tls.cert, key: tls.key }, listener);
  const primary = make();
  await new Promise<void>((resolve, reject) => {
    primary.once('error', reject);
    primary.listen(port, '127.0.0.1', () => {
      primary.off('error', reject);
      resolve();
    });
  });
  const actual = (primary.address() as AddressInfo).port;
  const v6 = make();
  const v6ok = await new Promise<boolean>((resolve) => {
    v6.once('error', () => resolve(false));
    v6.listen(actual, '::1', () => resolve(true));
  });
  return { servers: v6ok ? [primary, v6] : [primary], port: actual };
}

export async function closeServers(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          // Keep-alive sockets (fetch pools them) would otherwise hold close() open.
          s.closeAllConnections();
        }),
    ),
  );
}
