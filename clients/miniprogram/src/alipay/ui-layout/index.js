'use strict';
/**
 * <ui-layout layout="{{layout}}" onAction="onAction" /> for Alipay mini-programs: the WeChat
 * renderer's view model and markup (index.axml is generated from index.wxml by
 * scripts/gen-platforms.js) over Alipay's Component API: `props` (with the `onAction` callback
 * instead of an event), `didMount` / `didUpdate` / `didUnmount`. A tap calls `onAction({id,
 * type, role, placement, props, page})` and, unless `track` is false, the registered client's
 * `track(page, id, "click", {version, mode})` (what was drawn, as on WeChat).
 *
 * It measures as the WeChat renderer does, once per launch (a layout of another page or template
 * version starts a new one): impressions (a component at least `impressionRatio` visible for
 * `impressionMs`, through Alipay's IntersectionObserver: the instance's
 * `createIntersectionObserver` where the base library has one, else `my.createIntersectionObserver`
 * with `selectAll`; a result names its node by `dataset.id` or by its `id`, `ui-<component id>`)
 * and render errors (a component whose type this renderer does not dispatch, or whose per-type
 * component calls its `onRenderError` prop: Alipay components have no bubbling events, so the
 * AXML hands every per-type component the renderer's handler), each tracked with the layout's
 * `template_version` and `mode`. A page hidden (`pageEvents.onHide`, where the base library
 * calls it) cuts a dwell under way; shown again, what is visible counts. A runtime without an
 * observer, or one that throws, gives no impressions and never an error out of drawing.
 */
const { viewModel, drawnDetail } = require('../../components/ui-layout/view-model');
const { askFirst, answerOf } = require('../../components/ui-layout/elderly');
const { createImpressions } = require('../../components/ui-layout/impressions');
const TYPES = require('../../components/ui-layout/types');
const registry = require('../../registry');

/** @type {Record<string, boolean>} */
const DRAWN = {};
TYPES.forEach((t) => { DRAWN[t] = true; });

/** @typedef {import('../../components/ui-layout/view-model').Item} Item */
/** @typedef {import('../../../index').EventKind} EventKind */
/**
 * @typedef {{layout: import('../../components/ui-layout/view-model').LayoutInput | null,
 *   client: string, track: boolean, onAction: ((detail: object) => void) | null,
 *   impressionRatio: number, impressionMs: number,
 *   onPrompt?: ((detail: {answer: string}) => void) | null}} Props
 */
/**
 * Alipay's IntersectionObserver (its result: `{id, dataset?, intersectionRatio}`).
 * @typedef {{relativeToViewport(margins?: object): AlipayObserver,
 *   observe(selector: string, fn: (res: {id?: string, dataset?: {id?: string}, intersectionRatio: number}) => void): void,
 *   disconnect(): void}} AlipayObserver
 */
/**
 * @typedef {{props: Props, data: Record<string, unknown>, setData(data: object): void,
 *   _byId?: Record<string, Item>, _launchKey?: string, _errors?: Record<string, boolean>,
 *   _observer?: AlipayObserver | null, _hidden?: boolean,
 *   _impressions?: ReturnType<typeof createImpressions>,
 *   createIntersectionObserver?: (options: object) => AlipayObserver,
 *   apply(layout: Props['layout']): void, launch(layout: Props['layout']): void,
 *   observe(): void, unobserve(): void, connect(): void, renderError(id: string): void,
 *   report(id: string, kind: EventKind): void,
 *   act(id: string, detail: Record<string, unknown>): void}} Instance
 */

/**
 * The view model without the by-id map (the view never needs it).
 * @param {Props['layout']} layout
 */
function dataOf(layout) {
  const vm = viewModel(layout);
  /** @type {Partial<ReturnType<typeof viewModel>>} */
  const data = Object.assign({}, vm);
  delete data.byId;
  return { data, byId: vm.byId };
}

/**
 * The component id an observer result names: its `data-id`, else its node id `ui-<id>`.
 * @param {{id?: string, dataset?: {id?: string}} | null | undefined} res
 * @returns {string}
 */
function observedId(res) {
  if (!res) return '';
  if (res.dataset && typeof res.dataset.id === 'string' && res.dataset.id) return res.dataset.id;
  return typeof res.id === 'string' && res.id.indexOf('ui-') === 0 ? res.id.slice(3) : '';
}

/**
 * The component id a per-type component's `onRenderError(...)` names: `{id}`, `{detail: {id}}`
 * or an event whose target carries `data-id`.
 * @param {unknown} arg
 * @returns {string}
 */
function erroredId(arg) {
  const a = /** @type {{id?: unknown, detail?: {id?: unknown}, currentTarget?: {dataset?: {id?: unknown}},
   *   target?: {dataset?: {id?: unknown}}} | null} */ (arg && typeof arg === 'object' ? arg : null);
  if (!a) return typeof arg === 'string' ? arg : '';
  const found = [a.id, a.detail && a.detail.id, a.currentTarget && a.currentTarget.dataset && a.currentTarget.dataset.id,
    a.target && a.target.dataset && a.target.dataset.id].find((v) => typeof v === 'string' && v);
  return /** @type {string} */ (found || '');
}

/** @type {(options: object) => void} Alipay's Component (typed here: no Alipay typings) */
const define = /** @type {any} */ (Component);

define({
  props: { layout: null, client: '', track: true, onAction: null, impressionRatio: 0.5, impressionMs: 800 },
  data: dataOf(null).data,
  /** @this {Instance} */
  didMount() {
    this.apply(this.props.layout);
  },
  /**
   * @this {Instance}
   * @param {Props} prevProps
   */
  didUpdate(prevProps) {
    if (prevProps.layout !== this.props.layout) this.apply(this.props.layout);
  },
  /** @this {Instance} */
  didUnmount() {
    this.unobserve();
  },
  pageEvents: {
    /**
     * The page is no longer on screen: a dwell under way is not an impression.
     * @this {Instance}
     */
    onHide() {
      this._hidden = true;
      this.unobserve();
    },
    /**
     * On screen again: a new observer reports what is visible now (once per launch still).
     * @this {Instance}
     */
    onShow() {
      const wasHidden = this._hidden;
      this._hidden = false;
      if (wasHidden && this.props.layout) this.observe();
    },
  },
  methods: {
    /**
     * @this {Instance}
     * @param {Props['layout']} layout
     */
    apply(layout) {
      const { data, byId } = dataOf(layout);
      this._byId = byId;
      this.setData(data);
      this.launch(layout);
    },
    /**
     * A layout arrived: a new launch when its page or version differs from the last one
     * (measurements count again), then render errors of types this renderer cannot dispatch,
     * and the visibility observer over the drawn items.
     * @this {Instance}
     * @param {Props['layout']} layout
     */
    launch(layout) {
      const key = layout ? (layout.page || '') + '@' + (layout.template_version || '') : '';
      if (key !== this._launchKey) {
        this._launchKey = key;
        this._errors = {};
        if (this._impressions) this._impressions.reset();
      }
      if (!layout) {
        this.unobserve();
        return;
      }
      const byId = this._byId || {};
      Object.keys(byId).forEach((id) => {
        if (byId[id] && !DRAWN[byId[id].type]) this.renderError(id);
      });
      if (!this._hidden) this.observe();
    },
    /** @this {Instance} */
    unobserve() {
      const observer = this._observer;
      this._observer = null;
      try {
        if (observer) observer.disconnect();
      } catch (e) {
        // measuring must never break drawing
      }
      if (this._impressions) this._impressions.stop();
    },
    /**
     * The visibility observer over the drawn items, replacing the last one; none when the
     * runtime cannot make one (no observer API, one that throws or answers something else).
     * @this {Instance}
     */
    observe() {
      this.unobserve();
      try {
        this.connect();
      } catch (e) {
        this._observer = null; // measuring must never break drawing
      }
    },
    /** @this {Instance} */
    connect() {
      if (!this.props.track) return;
      if (!this._impressions) {
        this._impressions = createImpressions({
          ratio: this.props.impressionRatio,
          dwellMs: this.props.impressionMs,
          setTimeout: (fn, ms) => setTimeout(fn, ms),
          clearTimeout: (id) => clearTimeout(/** @type {number} */ (id)),
          onImpression: (id) => this.report(id, 'impression'),
        });
      }
      const impressions = this._impressions;
      const options = { thresholds: [0, impressions.ratio, 1], selectAll: true, observeAll: true };
      /** @type {AlipayObserver | null | undefined} */
      let observer = null;
      if (typeof this.createIntersectionObserver === 'function') observer = this.createIntersectionObserver(options);
      else if (typeof my !== 'undefined' && my && typeof my.createIntersectionObserver === 'function') {
        observer = my.createIntersectionObserver(options);
      }
      if (!observer || typeof observer.relativeToViewport !== 'function') return;
      this._observer = observer;
      observer.relativeToViewport().observe('.ui-item', (res) => {
        const id = observedId(res);
        // a node of another <ui-layout> on the page is not this one's
        if (id && this._byId && this._byId[id] && res) impressions.observe(id, Number(res.intersectionRatio) || 0);
      });
    },
    /**
     * @this {Instance}
     * @param {string} id
     */
    renderError(id) {
      const errors = this._errors || (this._errors = {});
      if (errors[id]) return;
      errors[id] = true;
      this.report(id, 'render_error');
    },
    /**
     * A per-type component could not draw: it called its `onRenderError` prop (or a view's
     * `rendererror` reached the wrapper); an id this layout does not have is ignored.
     * @this {Instance}
     * @param {unknown} arg `{id}`, `{detail: {id}}` or an event with `data-id`
     */
    onRenderError(arg) {
      const id = erroredId(arg);
      if (id && this._byId && this._byId[id]) this.renderError(id);
    },
    /**
     * Feed the registered client's `track`, with what was drawn; never throws.
     * @this {Instance}
     * @param {string} id
     * @param {EventKind} kind
     */
    report(id, kind) {
      if (!this.props.track) return;
      const layout = this.props.layout;
      const client = registry.get(this.props.client);
      if (!layout || !client || typeof client.track !== 'function') return;
      try {
        client.track(layout.page || '', id, kind, drawnDetail(layout));
      } catch (e) {
        // measuring must never break drawing
      }
    },
    /**
     * @this {Instance}
     * @param {{currentTarget: {dataset: {id: string}}}} event
     */
    onTap(event) {
      const item = this._byId && this._byId[event.currentTarget.dataset.id];
      if (!item) return;
      const layout = this.props.layout;
      const page = (layout && layout.page) || '';
      const detail = { id: item.id, type: item.type, role: item.role, placement: item.placement, props: item.props, page };
      askFirst(item, () => this.act(item.id, detail));
    },
    /**
     * @this {Instance}
     * @param {string} id
     * @param {Record<string, unknown>} detail
     */
    act(id, detail) {
      if (typeof this.props.onAction === 'function') this.props.onAction(detail);
      this.report(id, 'click'); // with the version and mode drawn
    },
    /** @this {Instance} */
    onMore() {
      this.setData({ moreOpen: !this.data.moreOpen });
    },
    /**
     * @this {Instance}
     * @param {{currentTarget: {dataset: {answer: string}}}} event
     */
    onPrompt(event) {
      const answer = answerOf(event);
      const emit = this.props.onPrompt;
      if (!answer) return;
      this.setData({ prompt: '' });
      if (typeof emit === 'function') emit({ answer });
    },
  },
});
