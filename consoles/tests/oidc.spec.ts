// Signing in as deployed: OpenID Connect authorization code with PKCE against a loopback provider, with the consoles
// served by a second edl-local whose config.json names that provider.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { expect, test } from '@playwright/test';
import { startProvider, type Provider } from './oidc-provider';

const CLIENT_ID = 'edl-consoles';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

let provider: Provider;
let server: ChildProcess;
let base: string;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({}, info) => {
  const bin = process.env.EDL_LOCAL_BIN;
  if (!bin) throw new Error('EDL_LOCAL_BIN names the edl-local binary (scripts/test.sh sets it: target/debug/edl-local)');
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  provider = await startProvider({
    clientId: CLIENT_ID,
    redirectUri: `${base}/consoles/`,
    consoleOrigin: base,
    identities: [
      { label: '审核员 reviewer-0100', role: 'reviewer', sub: 'reviewer-0100' },
      { label: '管理员 admin-0100', role: 'admin', sub: 'admin-0100' },
    ],
    mint: async (identity) => {
      const answer = await fetch(`${base}/_dev/tokens`, { method: 'POST', body: JSON.stringify({ role: identity.role, sub: identity.sub }) });
      return ((await answer.json()) as { token: string }).token;
    },
  });
  const config = info.outputPath('console-config.json');
  writeFileSync(config, JSON.stringify({ signIn: 'oidc', api: '', oidc: { issuer: provider.issuer, clientId: CLIENT_ID, scope: 'openid' } }));
  const env: Record<string, string | undefined> = { ...process.env, EDL_CONSOLE_CONFIG: config, RUST_LOG: 'warn' };
  delete env.AWS_ENDPOINT_URL; // embedded storage, whatever the suite around runs against
  server = spawn(bin, ['--port', String(port), '--samples', '10'], { env, stdio: 'ignore' });
  for (let attempt = 0; attempt < 100; attempt++) {
    const up = await fetch(`${base}/consoles/config.json`).then((r) => r.ok, () => false);
    if (up) return;
    if (server.exitCode !== null) throw new Error(`edl-local exited with ${server.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('edl-local did not answer');
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await provider?.close();
});

test('a reviewer signs in through the authority login with PKCE and lands where they were going', async ({ page }) => {
  const policy = (await fetch(`${base}/consoles/`)).headers.get('content-security-policy') ?? '';
  expect(policy).toContain(`connect-src 'self' ${provider.issuer};`);

  await page.goto(`${base}/consoles/#/reviewer/passes`);
  await expect(page).toHaveURL(/#\/signin$/);
  await page.getByRole('button', { name: '使用统一身份认证登录' }).click();
  await expect(page).toHaveURL(new RegExp(`^${provider.issuer}/authorize\\?`));
  const authorize = new URL(page.url());
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
  await page.getByRole('button', { name: '审核员 reviewer-0100' }).click();

  await expect(page).toHaveURL(`${base}/consoles/#/reviewer/passes`);
  await expect(page.locator('[data-testid="user"]')).toHaveText('reviewer-0100 · 审核员');
  await expect(page.getByRole('heading', { name: '审核工作台' })).toBeVisible();
  await expect(page.locator('.queue-head')).toBeVisible();
  expect(provider.exchanges.at(-1)).toEqual({ ok: true });
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  expect(stored).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);

  // Signing out ends the login's session too, and comes back to the sign-in.
  await page.getByRole('button', { name: '退出' }).click();
  await expect(page).toHaveURL(/\/consoles\/#\/signin$/);
});

test('a code exchanged with the wrong PKCE verifier is refused, and the console says so', async ({ page }) => {
  await page.route(`${provider.issuer}/token`, async (route) => {
    const form = new URLSearchParams(route.request().postData() ?? '');
    form.set('code_verifier', 'x'.repeat(64));
    await route.continue({ postData: form.toString() });
  });
  await page.goto(`${base}/consoles/#/admin`);
  await page.getByRole('button', { name: '使用统一身份认证登录' }).click();
  await page.getByRole('button', { name: '管理员 admin-0100' }).click();
  await expect(page).toHaveURL(/#\/signin\?failed$/);
  await expect(page.locator('.notice-error')).toContainText('PKCE verification failed');
  expect(provider.exchanges.at(-1)).toEqual({ ok: false, error: 'invalid_grant' });
});

test('an answer that does not carry this sign-in’s state is refused', async ({ page }) => {
  await page.goto(`${base}/consoles/?code=forged&state=forged#/admin`);
  await expect(page).toHaveURL(/#\/signin\?failed$/);
  await expect(page.locator('.notice-error')).toContainText('登录未完成');
  expect(page.url()).not.toContain('code=');
});
