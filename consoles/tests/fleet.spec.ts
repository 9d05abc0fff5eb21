// The fleet page (R13): refusals next to the fields they concern, a pass issued, checked by an officer,
// withdrawn; another fleet's vehicle; a city's rules.

import { expect, test } from '@playwright/test';
import { api, open, screenshot, token } from './support';

const day = (offset: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(Date.now() + offset * 86_400_000));

test('a fleet manager applies, sees every refusal next to its field, corrects them, and withdraws the pass after a check', async ({ page }, info) => {
  await open(page, '#/fleet/apply', 'fleet_manager');
  await page.locator('#plate').fill('京B20001');
  await page.locator('#city').selectOption('110000');
  await expect(page.locator('#zones input[value="ring-5"]')).toBeAttached();
  await page.locator('#validFrom').fill(day(3));
  await page.locator('#validTo').fill(day(1));
  await page.locator('[data-row="window"] input[name="from"]').fill('19:00');
  await page.locator('[data-row="window"] input[name="to"]').fill('16:00');
  await page.getByRole('button', { name: '提交申请' }).click();

  await expect(page.locator('#error-zones li[data-code="no-zone"]')).toContainText('请至少选择一个区域');
  await expect(page.locator('#error-dates li[data-code="dates-invalid"]')).toContainText('日期无效');
  await expect(page.locator('#error-windows li[data-code="window-invalid"]')).toContainText('时段无效');
  await expect(page.locator('#validFrom')).toHaveAttribute('aria-invalid', 'true');
  await screenshot(page, info, 'fleet-refused');

  await page.locator('#zones input[value="ring-5"]').check();
  await page.locator('#validFrom').fill(day(0));
  await page.locator('#validTo').fill(day(2));
  await page.locator('[data-row="window"] input[name="from"]').fill('09:00');
  await page.getByRole('button', { name: '提交申请' }).click();
  await expect(page).toHaveURL(/#\/fleet\/passes\/TP/);
  await expect(page.locator('.notice-ok')).toContainText('通行证已签发');
  await expect(page.locator('[data-state="active"]')).toBeVisible();
  const id = decodeURIComponent(page.url().split('/').pop() ?? '');

  // An officer checks it; the fleet sees who did.
  const fleet = await token('fleet_manager');
  const { code } = (await api<{ code: string }>(fleet, 'GET', `/truck/passes/${id}/code`)).body;
  const officer = await token('officer');
  const checked = await api(officer, 'POST', '/truck/verifications', { code, zone: 'ring-5' });
  expect(checked.status).toBe(200);
  await page.getByRole('link', { name: '车辆与通行证' }).click();
  await page.locator(`tr[data-pass="${id}"]`).getByRole('link', { name: '详情' }).click();
  await expect(page.locator('.checks-table tbody tr')).toHaveCount(1);
  // The fleet sees which organisation checked the pass, never the officer's login id.
  await expect(page.locator('.checks-table')).toContainText('北京市公安局公安交通管理局');
  await expect(page.locator('.checks-table')).not.toContainText('officer-110000-0042');
  await screenshot(page, info, 'fleet-pass');

  await page.getByRole('button', { name: '撤回通行证' }).click();
  await page.getByRole('button', { name: '确认撤回' }).click();
  await expect(page.locator('.notice-ok')).toContainText('已撤回');
  await expect(page.locator('[data-state="withdrawn"]')).toBeVisible();
});

test("another fleet's vehicle is refused next to the plate", async ({ page }) => {
  await open(page, '#/fleet/apply/沪C30001', 'fleet_manager');
  await page.locator('#city').selectOption('310000');
  await page.locator('#zones input').first().check();
  await page.getByRole('button', { name: '提交申请' }).click();
  await expect(page.locator('#error-plate li[data-code="not-your-vehicle"]')).toBeVisible();
  await expect(page.locator('#plate')).toHaveAttribute('aria-invalid', 'true');
});

test("a city's truck rules, in the form the rules endpoint gives", async ({ page }, info) => {
  await open(page, '#/fleet/rules/110000', 'fleet_manager');
  const rules = page.locator('.city-rules[data-city="110000"]');
  await expect(rules).toContainText('五环内');
  await expect(rules).toContainText('危险货物运输车（禁止）');
  await expect(rules).toContainText('临时通行证');
  await screenshot(page, info, 'fleet-rules');
});
