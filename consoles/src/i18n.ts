// The consoles speak Chinese, with English available: the choice, and the words for the API's stable codes.

export type Lang = 'zh' | 'en';
export interface Words {
  zh: string;
  en: string;
}

const STORAGE_KEY = 'edl.lang';
let current: Lang = initial();

function initial(): Lang {
  // The language is a preference, not a secret: local storage is the right place for it.
  const stored = globalThis.localStorage?.getItem(STORAGE_KEY);
  return stored === 'en' ? 'en' : 'zh';
}

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
}

/** The text in the current language. */
export function tr(zh: string, en: string): string {
  return current === 'zh' ? zh : en;
}

/** The words for a stable code, or the code itself when the table has none (a newer API). */
export function word(table: Record<string, Words>, code: string): string {
  const entry = table[code];
  return entry ? entry[current] : code;
}

const w = (zh: string, en: string): Words => ({ zh, en });

export const ROLES: Record<string, Words> = {
  holder: w('持证人', 'Holder'),
  reviewer: w('审核员', 'Reviewer'),
  clerk: w('窗口业务员', 'Counter clerk'),
  admin: w('管理员', 'Administrator'),
  officer: w('执法民警', 'Police officer'),
  relying_party: w('核验单位', 'Relying party'),
  fleet_manager: w('车队管理员', 'Fleet manager'),
};

/** The photo rules' rejection reasons, in the order the reviewer numbers them (R5). */
export const REJECTION_REASONS: [string, Words][] = [
  ['background-not-white', w('背景不是白色', 'Background not white')],
  ['uneven-light', w('光线不均匀', 'Uneven light')],
  ['not-upright', w('头部不端正', 'Head not upright')],
  ['shoulders-not-level', w('双肩不平', 'Shoulders not level')],
  ['expression-not-natural', w('表情不自然', 'Expression not natural')],
  ['not-facing-camera', w('未正面面对镜头', 'Not facing the camera')],
  ['light-clothing', w('未穿深色衣服', 'Light clothing')],
  ['head-covered', w('未免冠', 'Head covered')],
  ['hair-covers-face-or-ears', w('头发遮挡面部或耳朵', 'Hair covers face or ears')],
  ['heavy-make-up', w('浓妆', 'Heavy make-up')],
  ['uniform', w('穿着制式服装', 'Uniform')],
  ['mask-sunglasses-or-ornaments', w('佩戴口罩、墨镜或饰物', 'Mask, sunglasses or ornaments')],
  ['exaggerated-pose-or-gesture', w('姿势或手势夸张', 'Exaggerated pose or gesture')],
  ['eyes-closed', w('闭眼', 'Eyes closed')],
  ['unlawful-or-offensive', w('含违法或不良内容', 'Unlawful or offensive')],
  ['older-than-six-months', w('拍摄时间超过 6 个月', 'Older than six months')],
  ['retouched-or-composite', w('修饰五官或合成照片', 'Retouched or composite')],
  ['not-the-holder', w('非持证人本人', 'Not the holder')],
];

export const APPLICATION_STATES: Record<string, Words> = {
  awaiting_liveness: w('待活体检测', 'Awaiting the liveness check'),
  awaiting_photo: w('待上传照片', 'Awaiting a photo'),
  awaiting_review: w('待人工审核', 'Awaiting review'),
  rejected: w('照片未通过', 'Photo rejected'),
  approved: w('已通过，待签发', 'Approved, being issued'),
  issued: w('已签发', 'Issued'),
  withdrawn: w('已撤回', 'Withdrawn'),
  expired: w('已过期', 'Expired'),
  stopped: w('已停止（恶意上传）', 'Stopped (malicious upload)'),
};

export const LICENCE_STATES: Record<string, Words> = {
  detained: w('扣留', 'Detained'),
  seized: w('暂扣', 'Seized'),
  medical_overdue: w('逾期未体检', 'Medical examination overdue'),
  review_overdue: w('逾期未审验', 'Periodic review overdue'),
  announced_stopped: w('公告停止使用', 'Announced stopped'),
  expired: w('超过有效期', 'Expired'),
  cancelled: w('注销', 'Cancelled'),
};

export const ELIGIBILITY_REFUSALS: Record<string, Words> = {
  'licence-not-yet-valid': w('驾驶证尚未生效', 'The licence is not yet valid'),
  'licence-validity-ended': w('驾驶证已超过有效期', 'The licence validity has ended'),
  'licence-detained': w('驾驶证被扣留', 'The licence is detained'),
  'licence-seized': w('驾驶证被暂扣', 'The licence is seized'),
  'medical-examination-overdue': w('逾期未体检', 'Overdue for its medical examination'),
  'periodic-review-overdue': w('逾期未审验', 'Overdue for its periodic review'),
  'licence-announced-stopped': w('驾驶证已公告停止使用', 'The licence is announced stopped'),
  'licence-expired': w('驾驶证已过期', 'The licence has expired'),
  'licence-cancelled': w('驾驶证已注销', 'The licence is cancelled'),
};

export const AVAILABILITY: Record<string, Words> = {
  live: w('已开通', 'Live'),
  scheduled: w('已定时', 'Scheduled'),
  not_scheduled: w('未开通', 'Not switched on'),
};

/** Why a presented licence failed, or what its live record says (README "Verification"). */
export const VERIFICATION_REASONS: Record<string, Words> = {
  'bad-prefix': w('不是电子驾驶证二维码', 'Not an electronic licence code'),
  'bad-base45': w('二维码内容已损坏', 'The code is damaged'),
  'bad-compression': w('二维码内容已损坏', 'The code is damaged'),
  'bad-cbor': w('二维码内容已损坏', 'The code is damaged'),
  'not-cose-sign1': w('二维码未签名', 'The code is not signed'),
  'wrong-algorithm': w('签名算法不被接受', 'Signature algorithm not accepted'),
  'missing-kid': w('签名缺少密钥标识', 'The signature names no key'),
  'bad-claims': w('二维码内容不完整', 'The code is incomplete'),
  'bad-check-character': w('条码校验位错误', 'Wrong barcode check character'),
  'bad-base64': w('数据格式错误', 'Malformed data'),
  'bad-mdoc': w('电子证件格式错误', 'Malformed document'),
  'wrong-doc-type': w('证件类型不符', 'Wrong document type'),
  'device-response-needs-nonce': w('设备出示须附核验随机数', 'A device presentation needs the verifier\'s nonce'),
  'bad-nonce': w('核验随机数格式错误', 'Malformed nonce'),
  'unknown-nonce': w('核验随机数无效、已使用或已过期', 'Nonce unknown, used or expired'),
  'doc-type-mismatch': w('证件类型与签发数据不符', 'Document type differs from the issuer\'s'),
  'missing-device-auth': w('缺少持证设备签名', 'No device signature'),
  'device-mac-unsupported': w('不支持设备消息认证码', 'Device MAC not supported online'),
  'bad-device-signature': w('持证设备签名无效（非本人设备或重放）', 'Bad device signature (another device, or a replay)'),
  'unknown-kid': w('签名密钥未知', 'Unknown signing key'),
  'untrusted-certificate': w('签名证书不可信', 'Untrusted certificate'),
  'certificate-expired': w('签名证书已过期', 'Certificate expired'),
  'bad-signature': w('签名无效（可能被篡改或伪造）', 'Bad signature (altered or forged)'),
  'digest-mismatch': w('内容与签名不符', 'Content does not match its signature'),
  expired: w('二维码已过期，请持证人刷新', 'The code has expired; ask the holder to refresh it'),
  'not-yet-valid': w('二维码尚未生效', 'The code is not yet valid'),
  'unknown-licence': w('查无此证', 'Unknown licence'),
  superseded: w('电子驾驶证已被新证取代', 'Superseded by a newer licence'),
  stopped: w('电子驾驶证已停止使用', 'The electronic licence is stopped'),
  'licence-expired': w('驾驶证已过期', 'The licence has expired'),
  'licence-cancelled': w('驾驶证已注销', 'The licence is cancelled'),
  'licence-announced-stopped': w('驾驶证已公告停止使用', 'The licence is announced stopped'),
  'licence-suspended': w('驾驶证被扣留或暂扣', 'The licence is detained or seized'),
};

/** Why a truck may or may not be where it is (README "Verification", truck passes). */
export const PASS_CHECK_REASONS: Record<string, Words> = {
  ...VERIFICATION_REASONS,
  'bad-prefix': w('不是货车通行证二维码', 'Not a truck pass code'),
  'unknown-pass': w('查无此通行证', 'Unknown pass'),
  'within-pass': w('在通行证许可范围内', 'Within the pass'),
  'no-restriction-now': w('当前不在限行时段，无需通行证', 'No restriction now: no pass needed'),
  'unknown-zone': w('该城市无此限行区域', 'The city has no such zone'),
  'other-city': w('通行证属于其他城市', 'The pass is for another city'),
  revoked: w('通行证已被撤销', 'The pass is revoked'),
  'not-active': w('通行证未生效', 'The pass is not active'),
  'outside-dates': w('不在通行证有效日期内', 'Outside the pass dates'),
  'zone-not-covered': w('通行证不含该区域', 'The pass does not cover this zone'),
  'outside-window': w('不在通行证许可时段内', 'Outside the pass time windows'),
};

export const PASS_STATES: Record<string, Words> = {
  pending_review: w('待审核', 'Pending review'),
  active: w('有效', 'Active'),
  rejected: w('未通过', 'Rejected'),
  revoked: w('已撤销', 'Revoked'),
  withdrawn: w('已撤回', 'Withdrawn'),
  expired: w('已过期', 'Expired'),
};

export const PASS_REFUSALS: Record<string, Words> = {
  'city-not-live': w('该城市尚未开通电子通行证', 'The city is not switched on'),
  'plate-invalid': w('号牌格式不正确', 'The plate is not valid'),
  'vehicle-type-banned': w('该城市禁止此类车辆通行', 'This vehicle type is banned in the city'),
  'emission-below-minimum': w('排放标准低于城市要求', 'Emission standard below the minimum'),
  'unknown-pass-type': w('无此通行证类型', 'No such pass type'),
  'no-zone': w('请至少选择一个区域', 'Choose at least one zone'),
  'unknown-zone': w('该城市无此区域', 'The city has no such zone'),
  'dates-invalid': w('日期无效', 'The dates are not valid'),
  'too-long': w('超过该类型的最长天数', 'Longer than the pass type allows'),
  'no-window': w('请至少填写一个时段', 'Give at least one time window'),
  'too-many-windows': w('时段过多（最多 4 个）', 'Too many windows (at most 4)'),
  'window-invalid': w('时段无效', 'A time window is not valid'),
  'overlapping-pass': w('与该车已有通行证日期重叠', 'Overlaps another pass of the vehicle'),
  'vehicle-mismatch': w('车辆类型或排放与登记不符', 'Vehicle type or emission differs from the register'),
};

export const PURPOSES: Record<string, Words> = {
  car_rental: w('汽车租赁', 'Car rental'),
  insurance_claim: w('保险理赔', 'Insurance claim'),
  recruitment: w('招聘', 'Recruitment'),
  ride_hailing: w('网约车', 'Ride hailing'),
  traffic_enforcement: w('交通执法', 'Traffic enforcement'),
};

export const DAY_TYPES: Record<string, Words> = {
  working_day: w('工作日', 'Working day'),
  rest_day: w('休息日', 'Rest day'),
};

/** The licence fields a verification may disclose. */
export const DISCLOSED_FIELDS: Record<string, Words> = {
  name: w('姓名', 'Name'),
  sex: w('性别', 'Sex'),
  birthDate: w('出生日期', 'Birth date'),
  nationality: w('国籍', 'Nationality'),
  licenceNumber: w('证号', 'Licence number'),
  classes: w('准驾车型', 'Vehicle classes'),
  firstIssueDate: w('初次领证日期', 'First issued'),
  mayDrive: w('可否驾驶', 'May drive'),
  validFrom: w('有效期起', 'Valid from'),
  validTo: w('有效期至', 'Valid to'),
  issuingAuthority: w('发证机关', 'Issuing authority'),
  address: w('住址', 'Address'),
  archiveNumber: w('档案编号', 'Archive number'),
  points: w('累积记分', 'Points'),
  states: w('驾驶证状态', 'Licence states'),
  colour: w('状态颜色', 'Status colour'),
  record: w('变更记录', 'Record'),
  portrait: w('照片', 'Portrait'),
};

export const SEX: Record<string, Words> = {
  male: w('男', 'Male'),
  female: w('女', 'Female'),
};
