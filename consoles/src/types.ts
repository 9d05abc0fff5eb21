// The shapes of the HTTP API's answers the consoles read (README "The API").

export interface Actor {
  id: string;
  role: string;
}

export interface HistoryEntry {
  at: string;
  action: string;
  /** None for what the system did on its own (a pass issued without review). */
  by: Actor | null;
  from?: string;
  to?: string;
  detail?: string;
}

export interface CheckResult {
  code: string;
  passed: boolean;
  message: string;
}

export interface QueueItem {
  id: string;
  state: string;
  channel: string;
  source: string;
  submittedAt: string;
  dueAt: string;
  overdue: boolean;
  resubmission: boolean;
  /** A first reviewer reported the upload malicious; a second, different reviewer confirms or overrules it. */
  awaitingConfirmation: boolean;
  checks: CheckResult[];
}

export interface Page<T> {
  at: string;
  items: T[];
  next?: string;
}

export interface ReviewDecision {
  verdict: string;
  reasons: string[];
  note: string;
  by: Actor;
  at: string;
}

export interface ReviewItem extends QueueItem {
  photoUrl: string;
  previousPhotoUrl?: string;
  linksExpireAt: string;
  holder?: { name: string; sex: string; birthDate: string };
  lastReview?: ReviewDecision;
  maliciousReport?: ReviewDecision;
  history: HistoryEntry[];
  version: number;
}

export interface Application {
  id: string;
  licenceNumber: string;
  holderId: string;
  cityCode: string;
  channel: string;
  photoSource: string;
  state: string;
  createdAt: string;
  updatedAt: string;
  lastReview?: ReviewDecision;
  history: HistoryEntry[];
}

export interface TimeWindow {
  from: string;
  to: string;
}

export interface TruckPass {
  id: string;
  serial: string;
  plate: string;
  vehicleType: string;
  emission: string;
  city: string;
  passType: string;
  zones: string[];
  validFrom: string;
  validTo: string;
  windows: TimeWindow[];
  ownerId: string;
  fleetId?: string;
  rulesVersion: number;
  status: { state: string; reason?: string; at?: string };
  issuedAt: string | null;
  reviewDueAt?: string | null;
  createdAt: string;
  history: HistoryEntry[];
}

export interface PassQueueItem {
  pass: TruckPass;
  dueAt: string | null;
  overdue: boolean;
}

export interface Availability {
  status: string;
  since?: string;
  opensAt?: string;
}

export interface Zone {
  id: string;
  name: string;
  description: string;
}

export interface RestrictedHours {
  dayType: string;
  from: string;
  to: string;
}

export interface PassType {
  id: string;
  name: string;
  maxDays: number;
  needsReview: boolean;
  allowOverlap: boolean;
}

/** `GET /truck/cities/{city}`: a city's rules in the form an app renders. */
export interface CityRules {
  city: string;
  name: string;
  batch: number;
  availability: Availability;
  rulesVersion: number;
  utcOffset: string;
  zones: Zone[];
  restrictedHours: RestrictedHours[];
  vehicleTypes: { code: string; name: string; banned: boolean }[];
  minEmission: string;
  emissionStandards: { code: string; name: string; accepted: boolean }[];
  passTypes: PassType[];
  maxWindows: number;
}

export interface CitySummary {
  city: string;
  name: string;
  batch: number;
  availability: Availability;
  rulesVersion: number;
}

export interface Licence {
  number: string;
  holderId: string;
  name: string;
  sex: string;
  nationality: string;
  birthDate: string;
  address: string;
  firstIssueDate: string;
  classes: string[];
  validFrom: string;
  validTo: string;
  issuingAuthority: { code: string; name: string };
  archiveNumber: string;
  points: number;
  states: string[];
  photoOnFile: boolean;
  version: number;
}

export interface Refusal {
  code: string;
  message: string;
}
