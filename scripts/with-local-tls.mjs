#!/usr/bin/env node
// Runs a command with the local loopback TLS certificate trusted.
//
// msal-node refuses http:// authorities, so local mode and the tests serve the identity
// simulator (and the Key Vault stand-in) over HTTPS with a self-signed certificate made on
// first run. Node reads NODE_EXTRA_CA_CERTS only at process start, hence this launcher:
// it makes the certificate if needed, then starts the command with it trusted.
// The certificate is for localhost / 127.0.0.1 / ::1 only and never leaves .local/.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';

const dir = resolve(process.env.LOCAL_TLS_DIR ?? '.local/tls');
const certPath = join(dir, 'cert.pem');
const keyPath = join(dir, 'key.pem');

function stillValid() {
  if (!existsSync(certPath) || !existsSync(keyPath)) return false;
  const cert = new X509Certificate(readFileSync(certPath));
  return Date.parse(cert.validTo) - Date.now() > 7 * 24 * 3600 * 1000;
}

if (!stillValid()) {
  mkdirSync(dir, { recursive: true });
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  console.error(`local TLS certificate written to ${certPath}`);
}

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: with-local-tls.mjs <command> [args...]');
  process.exit(2);
}
const child = spawn(cmd, args, {
  stdio: 'inherit',
  shell: process.platform === 'win32',
  env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath, LOCAL_TLS_CERT: certPath, LOCAL_TLS_KEY: keyPath },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
