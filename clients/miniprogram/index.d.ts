/// <reference types="miniprogram-api-typings" />
// Type declarations for uiserver-miniprogram (the SDK in src/index.js; the renderer is the
// custom component src/components/ui-layout).

/** DESIGN section 5: the layout body, schema 1 (fields may be added, never renamed). */
export interface LayoutPalette {
  text: string; background: string; primary: string; on_primary: string;
  muted?: string; surface?: string;
}
export interface LayoutTheme {
  font_px: number;
  line_height: number;
  motion: 'full' | 'reduced' | 'none';
  high_contrast: boolean;
  palette: LayoutPalette;
  dark?: boolean;
  direction?: 'ltr' | 'rtl';
}
export type Placement =
  | 'flow' | 'bottom_left' | 'bottom_center' | 'bottom_right'
  | 'floating_left' | 'floating_right' | 'top_left' | 'top_right' | (string & {});
export interface LayoutComponent {
  id: string; type: string; role: string; label: string;
  font_px: number; min_target_px: number; placement: Placement; pinned: boolean;
  props: Record<string, unknown>; reasons: string[];
  /** Not sent by today's server (it leaves hidden components out); honoured when present. */
  hidden?: boolean; visible?: boolean;
  /** Elderly mode (长辈版): what a screen reader speaks, the paragraph gap and the space kept
   * around a target in px, and whether it sits behind the page's "更多 More" entry. */
  speech?: string; paragraph_px?: number; gap_px?: number; folded?: boolean;
}
export interface Layout {
  schema: 1;
  page: string;
  template_version: string;
  variant: string | null;
  mode: 'standard' | 'elderly';
  theme: LayoutTheme;
  components: LayoutComponent[];
  personalization: {
    strength: number; cap: number; changed_ratio: number; capped: boolean;
    changes: Array<{ component: string; change: string; reason: string }>;
  };
  reasons?: string[];
  /** Elderly mode only: the needs applied, the More entry, the help kind, the one-time prompt. */
  elderly?: {
    needs: string[]; max_columns: number; max_entries: number;
    more_label?: string; help?: string; prompt?: 'elderly_mode';
  };
}

/** Query context of `GET /v1/layouts/{page}`. */
export interface LayoutContext {
  device?: 'phone' | 'tablet' | 'desktop';
  width?: number;
  dark?: boolean;
  low_power?: boolean;
  /** The system font size (WeChat `fontSizeSetting`); ~24 px in care mode counts towards elderly mode. */
  font_px?: number;
  locale?: string;
  daypart?: 'morning' | 'noon' | 'afternoon' | 'evening' | 'night';
  weather?: 'clear' | 'rain' | 'snow' | 'hot' | 'cold';
}

export interface Settings {
  elderly_mode: 'auto' | 'on' | 'off';
  font_scale: number;
  high_contrast: boolean;
  reduce_motion: boolean;
  screen_reader: boolean;
  handedness: 'left' | 'right' | 'unknown';
  /** 0..1; 0 = personalization off (the SDK then sends no events). */
  personalization: number;
  age_band: 'under_18' | '18_39' | '40_59' | '60_plus' | 'unknown';
}

/** `wx.request`'s signature: the SDK calls `success` / `fail` and reads statusCode, header, data. */
export type RequestFn = (option: WechatMiniprogram.RequestOption) => unknown;

/** The sync storage subset of `wx` the SDK uses. */
export interface SyncStorage {
  getStorageSync(key: string): any;
  setStorageSync(key: string, value: any): void;
  removeStorageSync(key: string): void;
  /** The stored keys (wx, my and tt have it): erase() then finds copies the index lost. */
  getStorageInfoSync?(): { keys: string[] };
}

/**
 * A runtime's adapter: its transport, storage, app-hide hook and system info in the shapes the
 * core takes (`platforms.wechat(wx)`, `alipay(my)`, `douyin(tt)`, `web(window)`; `detect()`).
 */
export interface Platform {
  name: 'wechat' | 'alipay' | 'douyin' | 'web' | (string & {});
  request: RequestFn;
  storage: SyncStorage;
  onAppHide?: (fn: () => void) => void;
  systemInfo: () => Partial<WechatMiniprogram.SystemInfo> & Record<string, unknown>;
  /**
   * The HTTP methods its request can send (upper case); every method when absent. An Alipay
   * client older than 10.1.82 sends GET and POST only: putSettings, patchSettings and erase()
   * then reject with UnsupportedMethodError, sending nothing.
   */
  methods?: string[];
}

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export interface EventOptions {
  /** Flush when this many events are queued (50). */
  batchSize?: number;
  /** Flush this long after the first queued event (10 000 ms). */
  flushIntervalMs?: number;
  /** Events per request, the server's limit (500). */
  maxPerRequest?: number;
  /** Oldest events beyond this are dropped (5000). */
  maxQueued?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * Makes each event's id when it is tracked (default: the time in base 36, `-`, 18 random
   * base-36 characters). The server takes 8-64 characters of `A-Z a-z 0-9 _ -`, unique per user.
   */
  newId?: () => string;
  /** The longest wait a Retry-After (delta-seconds or HTTP-date) is honoured for (3 600 000 ms). */
  retryAfterMaxMs?: number;
}

export interface LayoutClientOptions {
  /** e.g. "https://ui.example.com" (no trailing path). */
  baseUrl: string;
  /** The user's JWT from your backend; sync or async; '' or null for anonymous. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** The runtime's adapter (default `platforms.detect()`: wx, my, tt, else the web page). */
  platform?: Platform;
  /** Default the platform's (`wx.request`, `my.request`, `tt.request`, `fetch`). */
  request?: RequestFn;
  /** Default `wx`. */
  storage?: SyncStorage;
  /** Layouts bundled with the app, by page: shown on a first launch while the network answers. */
  defaults?: Record<string, Layout>;
  /**
   * Clock in ms (default Date.now). A Date (or numeric text) it answers is read as its ms; an
   * answer that is no time (NaN, undefined) stands down for Date.now.
   */
  now?: () => number;
  /** Timers for event batching and retries (default the global setTimeout). */
  scheduler?: Scheduler;
  /** System info for context() (default wx.getWindowInfo/getAppBaseInfo/getDeviceInfo or getSystemInfoSync). */
  systemInfo?: () => Partial<WechatMiniprogram.SystemInfo>;
  /** Registers the app-hide handler that flushes events (default wx.onAppHide). */
  onAppHide?: (fn: () => void) => void;
  /** An update arriving this soon after launch is marked `applyNow` (1500 ms). */
  applyWithinMs?: number;
  /** Request timeout (10 000 ms). */
  timeoutMs?: number;
  /** Stored layouts kept, least recently used evicted (20). */
  maxEntries?: number;
  storagePrefix?: string;
  events?: EventOptions;
  /** Errors the SDK handled on its own (background revalidation, event delivery). */
  onError?: (error: Error) => void;
  /** Register as the client <ui-layout> taps feed (true). */
  register?: boolean;
  /**
   * The types this app's renderer draws (default: every type <ui-layout> dispatches), sent as
   * `X-UI-Capabilities: r=<rendererVersion>;t=<typesHash(types)>` with each layout request;
   * `capabilities: false` sends nothing (the server then sends every type).
   */
  types?: string[];
  /**
   * The renderer version (default this package's), sent as the server takes it: its first three
   * numbers, MAJOR.MINOR.PATCH ("1.2.0-beta.1" is sent as 1.2.0).
   */
  rendererVersion?: string;
  capabilities?: boolean;
  random?: () => number;
  /**
   * Start in preview mode with a designer's preview token (`previewFromQuery(options.query)`):
   * launch/revalidate show the saved draft from `/v1/preview/layouts/{page}`, nothing is stored,
   * no events are queued, launched pages are polled. See README "Preview a draft on a phone".
   */
  preview?: PreviewOptions & { token: string | null | undefined };
}

export interface PreviewOptions {
  /** How often a previewed page asks for the draft again (3000 ms). */
  pollMs?: number;
}

export type LaunchSource = 'cache' | 'default' | 'network';
/**
 * "superseded": the answer came for a user no longer signed in, or from before a settings change
 * or erasure the SDK made: dropped (not stored, not announced), layout null.
 */
export type RevalidateStatus = 'updated' | 'not_modified' | 'offline' | 'expired' | 'superseded';

export interface RevalidateResult {
  /** null when status is "superseded", or "expired" with no default bundled for the page. */
  layout: Layout | null;
  status: RevalidateStatus;
  etag: string | null;
}

export interface LaunchResult {
  layout: Layout;
  source: LaunchSource;
  etag: string | null;
  /** The background revalidation, if one was started (null result: none was needed). */
  revalidation: Promise<RevalidateResult | null>;
}

export interface UpdateMeta {
  etag: string | null;
  status: RevalidateStatus;
  /** True when it arrived within `applyWithinMs` of the launch: apply at once, else on next show. */
  applyNow: boolean;
  /** True for a designer's draft in preview mode (never stored). */
  preview?: boolean;
}

/**
 * `impression`: the component was at least half visible for 800 ms (the renderer's defaults),
 * once per launch; `render_error`: it threw or could not be drawn (sent with personalization 0
 * too: a fault report, counted with no user id).
 */
export type EventKind = 'view' | 'click' | 'convert' | 'impression' | 'render_error';
/** What the renderer drew: the layout's `template_version` and `mode` (telemetry keys). */
export interface TrackDetail { version?: string; mode?: 'standard' | 'elderly'; value?: number }
/**
 * An event as queued and sent (`ts`: Unix seconds). `id` is made when it is tracked and sent
 * with every attempt, after a restart too: the server counts a resent event once (7 days).
 */
export interface TrackedEvent {
  page: string; component: string; kind: EventKind;
  /** Left out when the server refused it as a clock's error (the server then takes its own now). */
  ts?: number; value?: number; id: string;
  version?: string; mode?: 'standard' | 'elderly';
}

/**
 * `sent`: events the server took (2xx); `stored` and `ignored` of them, with the server's reasons
 * (its 202 body, summed over the flush's requests); `dropped`: refused one by one (a 422 naming
 * the event); `pending`: still queued for the user.
 */
export interface FlushResult {
  sent: number; dropped: number; pending: number;
  stored: number; ignored: number; reasons: Record<string, number>;
}

export interface LayoutClient {
  launch(page: string, context?: LayoutContext): Promise<LaunchResult>;
  revalidate(page: string, context?: LayoutContext): Promise<RevalidateResult>;
  onUpdate(fn: (page: string, layout: Layout, meta: UpdateMeta) => void): () => void;
  /** Queues an event; false when not queued (anonymous, or personalization 0). */
  track(page: string, component: string, kind: EventKind, value?: number | TrackDetail): boolean;
  flush(): Promise<FlushResult>;
  getSettings(): Promise<Settings>;
  putSettings(settings: Settings): Promise<Settings>;
  /** JSON Merge Patch; GET + PUT on a server without PATCH. */
  patchSettings(patch: Partial<{ [K in keyof Settings]: Settings[K] | null }>): Promise<Settings>;
  /**
   * DELETE /v1/me, then everything this SDK stored about the user; rejects with
   * EraseIncompleteError when the storage refused to remove some of it.
   */
  erase(): Promise<{ erased: boolean }>;
  exportData(): Promise<{ user: string; data: Record<string, unknown> }>;
  context(): LayoutContext;
  pendingEvents(): TrackedEvent[];
  storedKeys(): string[];
  /** Preview mode with this token (see LayoutClientOptions.preview). */
  startPreview(token: string, options?: PreviewOptions): void;
  /** Back to the live layout: polls stop, the polled pages are revalidated live and announced. */
  stopPreview(): void;
  /** True while in preview mode (a 401 from the preview route ends it). */
  previewing(): boolean;
}

export function createLayoutClient(options: LayoutClientOptions): LayoutClient;
/**
 * The preview token in a mini-program's launch query: `preview_token`, or the scanned URL's
 * `preview_token` inside `q` (WeChat's "open the mini-program from a plain QR code"); else null.
 */
export function previewFromQuery(query: Record<string, unknown> | null | undefined): string | null;
/** This renderer's version (what `r=` says). */
export const RENDERER_VERSION: string;
/** FNV-1a 32-bit of the distinct names sorted and joined by "\n": 8 hex digits (`t=`). */
export function typesHash(types: Iterable<string>): string;
export function isUsableLayout(value: unknown): value is Layout;
export function mergePatch<T>(target: T, patch: unknown): T;

export interface CacheControl {
  maxAge: number; staleWhileRevalidate: number; staleIfError: number; noStore: boolean; noCache: boolean;
}
export function parseCacheControl(header: string | string[] | undefined | null): CacheControl;
/** A stored layout's timing: when it was stored (ms) and the intervals its response gave. */
export interface StoredTiming {
  storedAt: number;
  cacheControl?: Partial<CacheControl> | null;
  /** Settings changed since: never fresh again. */
  invalidated?: boolean;
}
/** "fresh" (show, ask nothing), "stale" (show, revalidate in the background) or "expired". */
export function freshness(entry: StoredTiming | null | undefined, now: number): 'fresh' | 'stale' | 'expired';
/** True while a stored entry may stand in for a failed request (age <= max-age + stale-if-error). */
export function usableOnError(entry: StoredTiming | null | undefined, now: number): boolean;
export function contextFromSystemInfo(info: Partial<WechatMiniprogram.SystemInfo>): LayoutContext;
export function contextQuery(context: LayoutContext): string;
export function subjectOf(token: string | null | undefined): string;

export const platforms: {
  /** The runtime this code runs in (WeChat, Alipay, Douyin, else a web page), or null. */
  detect(): Platform | null;
  wechat(wx: WechatMiniprogram.Wx): Platform;
  /**
   * Alipay's `my`: `headers`/`status`, object-style storage, HTTP errors through `fail`;
   * `methods`: what this host's my.request sends (default: GET and POST on an Alipay client
   * older than 10.1.82, else the documented GET, POST, PUT and DELETE: no PATCH, so
   * patchSettings sends GET + PUT).
   */
  alipay(my: any, options?: { methods?: string[] }): Platform;
  /** Douyin's `tt`: wx's signatures. */
  douyin(tt: any): Platform;
  /** A web page: `fetch`, `localStorage` (JSON), `visibilitychange`, the window's context. */
  web(window: any): Platform;
};

export const registry: {
  setDefault(client: Pick<LayoutClient, 'track'>): void;
  register(name: string, client: Pick<LayoutClient, 'track'>): void;
  get(name?: string): Pick<LayoutClient, 'track'> | null;
  clear(): void;
};

/** The server could not be reached (wx.request's `fail`). */
export class NetworkError extends Error {
  constructor(message?: string);
}
/**
 * The platform's request cannot send the method (PUT or DELETE on an Alipay client older than
 * 10.1.82; the server has no method override): putSettings, patchSettings or erase() refused,
 * nothing sent and nothing stored changed.
 */
export class UnsupportedMethodError extends Error {
  constructor(method: string, runtime?: string);
  code: 'method_unsupported'; method: string;
}
/** A 4xx/5xx, from the contract's error body `{"error": {"code", "message", "field"}}`. */
export class ApiError extends Error {
  constructor(status: number, body?: unknown);
  status: number; code: string; field: string | null;
}
/** launch(): nothing stored, no bundled default, and the server unreachable. */
export class LayoutUnavailableError extends Error {
  constructor(page: string);
  page: string;
}
/**
 * The user signed in changed while a request was in flight: its answer (settings, data export,
 * or a launch that kept changing hands) was dropped rather than handed to the new user.
 */
export class IdentityChangedError extends Error {
  constructor(message?: string);
  code: 'identity_changed';
}
/**
 * erase(): the server erased the user, but the platform's storage would neither remove nor blank
 * `keys` (this SDK's keys; everything else was removed). They read as nothing to this SDK from
 * then on, and are tried again when a client is next created on the same storage. `result`: the
 * server's answer.
 */
export class EraseIncompleteError extends Error {
  constructor(keys: string[], result: unknown);
  code: 'erase_incomplete'; keys: string[]; result: { erased: boolean };
}
/** An HTTP-date (RFC 9110 5.6.7: IMF-fixdate, RFC 850 or asctime) in ms, or null. */
export function parseHttpDate(text: string | null | undefined, now: number): number | null;
/**
 * Retry-After (RFC 9110 10.2.3: delta-seconds or an HTTP-date, read against the answer's `Date`
 * when given) as a wait in ms, in [0, maxMs]; 0 for junk or a past date.
 */
export function retryAfterMs(retryAfter: string | null | undefined, date: string | null | undefined,
  now: number, maxMs: number): number;

/** Detail of <ui-layout>'s `action` event. */
export interface LayoutActionDetail {
  id: string; type: string; role: string; placement: Placement;
  props: Record<string, unknown>; page: string;
}
