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
const { viewModel } = require('../../components/ui-layout/view-model');
const { askFirst, answerOf } = require('../../components/ui-layout/elderly');
const { createMeasure, actionDetail, trackDrawn } = require('../../components/ui-layout/measure');
const registry = require('../../registry');

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
 *   _byId?: Record<string, Item>, _hidden?: boolean,
 *   _measure?: ReturnType<typeof createMeasure>, measuring(): ReturnType<typeof createMeasure>,
 *   createIntersectionObserver?: (options: object) => AlipayObserver,
 *   apply(layout: Props['layout']): void, launch(layout: Props['layout']): void,
 *   observe(): void, unobserve(): void, connect(): AlipayObserver | undefined,
 *   report(id: string, kind: EventKind): void,
 *   act(id: string, detail: import('../../../index').LayoutActionDetail): void}} Instance
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
     * What this instance measures (made on first use: measure.js).
     * @this {Instance}
     */
    measuring() {
      if (!this._measure) this._measure = createMeasure((id, kind) => this.report(id, kind));
      return this._measure;
    },
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
      const measure = this.measuring();
      measure.launch(layout);
      if (!layout) {
        this.unobserve();
        return;
      }
      measure.undispatched(this._byId);
      if (!this._hidden) this.observe();
    },
    /** @this {Instance} */
    unobserve() {
      this.measuring().stop();
    },
    /**
     * The visibility observer over the drawn items, replacing the last one; none when the
     * runtime cannot make one (no observer API, one that throws or answers something else).
     * @this {Instance}
     */
    observe() {
      this.unobserve();
      this.measuring().connect(() => this.connect());
    },
    /**
     * The observer over the drawn items, wired to the impressions; none without the API.
     * @this {Instance}
     */
    connect() {
      if (!this.props.track) return undefined;
      const impressions = this.measuring().impressions(this.props.impressionRatio, this.props.impressionMs);
      const options = { thresholds: [0, impressions.ratio, 1], selectAll: true, observeAll: true };
      /** @type {AlipayObserver | null | undefined} */
      let observer = null;
      if (typeof this.createIntersectionObserver === 'function') observer = this.createIntersectionObserver(options);
      else if (typeof my !== 'undefined' && my && typeof my.createIntersectionObserver === 'function') {
        observer = my.createIntersectionObserver(options);
      }
      if (!observer || typeof observer.relativeToViewport !== 'function') return undefined;
      observer.relativeToViewport().observe('.ui-item', (res) => {
        const id = observedId(res);
        // a node of another <ui-layout> on the page is not this one's
        if (id && this._byId && this._byId[id] && res) impressions.observe(id, Number(res.intersectionRatio) || 0);
      });
      return observer;
    },
    /**
     * A per-type component could not draw: it called its `onRenderError` prop (or a view's
     * `rendererror` reached the wrapper); an id this layout does not have is ignored.
     * @this {Instance}
     * @param {unknown} arg `{id}`, `{detail: {id}}` or an event with `data-id`
     */
    onRenderError(arg) {
      const id = erroredId(arg);
      if (id && this._byId && this._byId[id]) this.measuring().renderError(id);
    },
    /**
     * Feed the registered client's `track`, with what was drawn; never throws.
     * @this {Instance}
     * @param {string} id
     * @param {EventKind} kind
     */
    report(id, kind) {
      const layout = this.props.layout;
      if (this.props.track && layout) trackDrawn(registry.get(this.props.client), layout, id, kind);
    },
    /**
     * @this {Instance}
     * @param {{currentTarget: {dataset: {id: string}}}} event
     */
    onTap(event) {
      const item = this._byId && this._byId[event.currentTarget.dataset.id];
      if (!item) return;
      const detail = actionDetail(item, this.props.layout);
      askFirst(item, () => this.act(item.id, detail));
    },
    /**
     * @this {Instance}
     * @param {string} id
     * @param {import('../../../index').LayoutActionDetail} detail
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
