import type { BrowserContext } from '@playwright/test';

type Reporting = Window & { __livecastCspViolation?: (text: string) => void };

/**
 * Collects every Content-Security-Policy violation in the context's pages, as the browser reports
 * them: `securitypolicyviolation` events (listened to before any page script runs) and the
 * console errors Chromium prints for them ("Refused to … Content Security Policy …").
 */
export async function watchCspViolations(context: BrowserContext): Promise<string[]> {
  const violations: string[] = [];
  await context.exposeBinding('__livecastCspViolation', ({ page }, text: string) => void violations.push(`${page.url()}: ${text}`));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as Reporting).__livecastCspViolation?.(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  context.on('console', (message) => {
    if (/content.security.policy/i.test(message.text())) violations.push(`${message.page()?.url()}: ${message.text()}`);
  });
  return violations;
}
