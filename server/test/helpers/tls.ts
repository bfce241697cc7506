import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A self-signed certificate made for one test run, in a folder of its own. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate (PEM): clients that should trust it pass it as their CA. */
  cert: string;
  /** TLS_CERT / TLS_KEY for a server that serves it. */
  env: { TLS_CERT: string; TLS_KEY: string };
  remove(): void;
}

/**
 * Makes a P-256 certificate valid for a day, for 127.0.0.1 and any other `subjectAltNames`
 * (`DNS:name` or `IP:address`), with Debian's openssl (OPENSSL_PATH overrides it): tests must not
 * carry a key in the repository, and Node's crypto cannot issue certificates.
 */
export function makeTestCertificate(subjectAltNames: string[] = []): TestCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'livecast-test-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const san = ['IP:127.0.0.1', ...subjectAltNames].join(',');
  execFileSync(
    process.env.OPENSSL_PATH ?? 'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, 'utf8'),
    env: { TLS_CERT: certFile, TLS_KEY: keyFile },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
