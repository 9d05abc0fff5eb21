// The counter page (R12): a clerk applies for a holder of their office and follows it to issuance; refusals in words.

import { expect, test } from '@playwright/test';
import { newLicence, open, screenshot } from './support';

const SHENZHEN = { city: '440300', cityName: '深圳市' };

test('a clerk applies at the counter and follows the application to issuance', async ({ page }, info) => {
  const holder = await newLicence({ ...SHENZHEN, name: '钱窗口' });
  await open(page, '#/counter', 'clerk', { office: '440300' });
  await page.locator('#licence-number').fill(holder);
  await page.getByRole('button', { name: '窗口申请电子驾驶证' }).click();
  await expect(page).toHaveURL(/#\/counter\/applications\//);
  await expect(page.locator('.state')).toHaveAttribute('data-state', 'issued');
  await expect(page.locator('.notice-ok')).toContainText('电子驾驶证已签发');
  await expect(page.locator('.history')).toContainText('窗口业务员');
  await screenshot(page, info, 'counter-issued');
});

test('an ineligible licence shows every refusal reason', async ({ page }, info) => {
  const holder = await newLicence({ ...SHENZHEN, states: ['detained', 'medical_overdue'] });
  await open(page, `#/counter/${holder}`, 'clerk', { office: '440300' });
  await page.getByRole('button', { name: '窗口申请电子驾驶证' }).click();
  const refusals = page.locator('.refusals li');
  await expect(refusals).toHaveCount(2);
  await expect(page.locator('.refusals li[data-code="licence-detained"]')).toContainText('驾驶证被扣留');
  await expect(page.locator('.refusals li[data-code="medical-examination-overdue"]')).toContainText('逾期未体检');
  await screenshot(page, info, 'counter-refused');
});

test("another office's licence is refused in the API's own words", async ({ page }) => {
  const holder = await newLicence({ city: '110000' });
  await open(page, `#/counter/${holder}`, 'clerk', { office: '440300' });
  await page.getByRole('button', { name: '窗口申请电子驾驶证' }).click();
  const problem = page.locator('.notice-error');
  await expect(problem.locator('.problem-title')).toHaveText('Not allowed');
  await expect(problem.locator('.problem-detail')).not.toBeEmpty();
});
