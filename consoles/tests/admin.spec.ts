// The administrator console (R2, R7, R13): switching a wave on, after which an application goes through;
// a licence's record and a change to it; a city's truck rules edited.

import { expect, test } from '@playwright/test';
import { api, newLicence, open, passLiveness, screenshot, token } from './support';

test('switching wave 2c on lets an application from one of its cities go through', async ({ page }, info) => {
  const admin = await token('admin');
  expect((await api(admin, 'PUT', '/admin/rollout/waves/2c', { goLiveAt: null })).status).toBe(200);
  const holder = await newLicence({ city: '440800', cityName: '湛江市', name: '孙湛江' });
  const holderToken = await token('holder', { sub: holder });
  const refused = await api(holderToken, 'POST', '/applications', { photoSource: 'on_file' });
  expect(refused.status).toBe(422);
  expect(refused.body.type).toBe('urn:edl:problem:city-not-live');

  await open(page, '#/admin/rollout', 'admin');
  const wave = page.locator('tr[data-wave="2c"]').first();
  await expect(wave.locator('[data-status]')).toHaveAttribute('data-status', 'not_scheduled');
  await wave.getByRole('button', { name: '立即开通' }).click();
  await expect(page.locator('.notice-ok')).toContainText('批次 2c：已立即开通');
  await expect(page.locator('tr[data-wave="2c"]').first().locator('[data-status]')).toHaveAttribute('data-status', 'live');
  await expect(page.locator('tr[data-city="440800"] [data-status]')).toHaveAttribute('data-status', 'live');
  await expect(page.locator('.history').last()).toContainText('wave:2c');
  await screenshot(page, info, 'admin-rollout');

  const opened = await api<{ id: string }>(holderToken, 'POST', '/applications', { photoSource: 'on_file' });
  expect(opened.status).toBe(201);
  await passLiveness(holderToken, opened.body.id);
  const issued = await api<{ state: string }>(holderToken, 'GET', `/applications/${opened.body.id}`);
  expect(issued.body.state).toBe('issued');
});

test("a licence's record, eligibility and history, and a change recorded", async ({ page }, info) => {
  const holder = await newLicence({ name: '郑记分' });
  await open(page, `#/admin/licences/${holder}`, 'admin');
  await expect(page.locator('h2').first()).toContainText('郑记分');
  await expect(page.locator('.notice-ok')).toContainText('符合申领电子驾驶证的条件');
  await page.locator('input[name="points"]').fill('12');
  await page.locator('input[name="states"][value="seized"]').check();
  await page.locator('input[name="reason"]').fill('违法记分满分');
  await page.getByRole('button', { name: '登记变更' }).click();
  await expect(page.locator('.notice-ok')).toContainText('变更已登记');
  await expect(page.locator('.facts')).toContainText('12');
  await expect(page.locator('.refusals li[data-code="licence-seized"]')).toBeVisible();
  await expect(page.locator('.history')).toContainText('违法记分满分');
  await screenshot(page, info, 'admin-licence');
});

test("a city's truck rules are edited, raising their version", async ({ page }, info) => {
  await open(page, '#/admin/truck/510100', 'admin');
  const heading = page.locator('h2').first();
  await expect(heading).toContainText('规则版本');
  const before = Number((await heading.textContent())?.match(/(\d+)$/)?.[1]);
  const restDay = page.locator('[data-row="hours"]').filter({ has: page.locator('option[value="rest_day"]:checked') });
  await restDay.locator('input[name="to"]').fill('21:00');
  await page.locator('.rules-form input[name="reason"]').fill('休息日限行延长至21:00');
  await page.getByRole('button', { name: '保存新规则' }).click();
  await expect(page.locator('.notice-ok')).toContainText('规则已更新');
  await expect(page.locator('h2').first()).toContainText(`规则版本 ${before + 1}`);
  await expect(page.locator('.history')).toContainText('休息日限行延长至21:00');
  await screenshot(page, info, 'admin-truck-rules');
});

test('an API problem is shown in words from its title and detail', async ({ page }) => {
  await open(page, '#/admin/licences/110105199001010000', 'admin');
  const problem = page.locator('.notice-error');
  await expect(problem.locator('.problem-title')).toHaveText('Not found');
  await expect(problem.locator('.problem-detail')).toContainText('110105199001010000');
});
