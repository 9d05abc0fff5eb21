// Signing in and out: a signed-out user gets the sign-in and comes back where they were; a wrong role gets a plain
// refusal; English is one click away; no token is kept in web storage.

import { expect, test } from '@playwright/test';
import { baseUrl, open, signIn } from './support';

test('a signed-out user is asked to sign in and then taken where they were going', async ({ page }) => {
  await page.goto(`${baseUrl()}/consoles/#/admin/rollout`);
  await expect(page).toHaveURL(/#\/signin$/);
  await expect(page.getByRole('heading', { name: '开发登录' })).toBeVisible();
  await signIn(page, 'admin');
  await expect(page).toHaveURL(/#\/admin\/rollout$/);
  await expect(page.locator('tr[data-wave="1"]:not([data-city])')).toBeVisible();
});

test('a user without the role sees a plain refusal, not a broken page', async ({ page }) => {
  await open(page, '#/admin', 'officer');
  const refusal = page.locator('[data-testid="refusal"]');
  await expect(refusal).toContainText('无权使用');
  await expect(refusal).toContainText('“管理控制台”需要管理员角色；您当前的角色是：执法民警。');
  await page.goto(`${baseUrl()}/consoles/#/nowhere`);
  await expect(page.locator('.notice-warn')).toContainText('没有这个页面');
});

test('the consoles are in Chinese with English one click away, and the choice is kept', async ({ page }) => {
  await open(page, '#/reviewer', 'reviewer');
  await expect(page.getByRole('heading', { name: '审核工作台' })).toBeVisible();
  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('heading', { name: 'Review console' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Development sign-in' })).toBeVisible();
  await page.getByRole('button', { name: '中文' }).click();
  await expect(page.getByRole('heading', { name: '开发登录' })).toBeVisible();
});

test('signing out ends the session and no token is left in web storage', async ({ page }) => {
  await open(page, '#/reviewer', 'reviewer');
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  expect(stored).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  await page.getByRole('button', { name: '退出' }).click();
  await expect(page).toHaveURL(/#\/signin\?signed-out$/);
  await expect(page.locator('.notice-ok')).toContainText('您已退出');
  await page.goto(`${baseUrl()}/consoles/#/reviewer`);
  await expect(page).toHaveURL(/#\/signin$/);
});
