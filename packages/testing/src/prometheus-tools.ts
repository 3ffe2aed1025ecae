import { spawn } from 'node:child_process';
import * as http from 'node:http';

/** GETs a Prometheus endpoint's text; rejects on a status other than 200. */
export function scrape(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () =>
          response.statusCode === 200
            ? resolve(body)
            : reject(new Error(`${url} answered ${response.statusCode}: ${body}`)),
        );
      })
      .on('error', reject);
  });
}

/** What promtool said. */
export interface PromtoolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs Debian's `promtool` (package `prometheus`; `.ci/run` installs it) with `args`, `stdin`
 * on its standard input. A missing promtool fails the test with a clear message, never skips it.
 */
export function promtool(args: string[], stdin?: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error('promtool not found: install Debian\'s "prometheus" package (.ci/run does)')
          : error,
      ),
    );
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}
