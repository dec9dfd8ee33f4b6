'use strict';
/**
 * <ui-layout layout="{{layout}}" bind:action="onAction" />: draws a uiserver layout document.
 * Each component goes through the abstract node named after its type (the app provides one
 * with `generic:product_grid="my-grid"`), else the plain <ui-block>. A tap emits `action`
 * ({id, type, role, placement, props, page}) and, unless `track` is false, feeds the registered
 * client's `track(page, id, "click", {version, mode})`.
 *
 * It measures, once per launch (a layout of another page or template version starts a new
 * one): impressions (a component at least `impressionRatio` visible for `impressionMs`, through
 * the mini-program IntersectionObserver: `impressions.js`) and render errors (a component whose
 * type this renderer does not dispatch, or whose per-type component triggers `rendererror`
 * with `{bubbles: true, composed: true}`), each tracked with the layout's `template_version`
 * and `mode`, batched with the other events.
 */
const { viewModel } = require('./view-model');
const { createMeasure, actionDetail, trackDrawn } = require('./measure');
const { askFirst, answerOf } = require('./elderly');
const registry = require('../../registry');

/** @typedef {import('./view-model').Item} Item */
/**
 * @typedef {{layout: import('./view-model').LayoutInput | null, client: string, track: boolean,
 *   impressionRatio: number, impressionMs: number}} Properties
 */
/**
 * The instance: its properties, the items by id (kept off `data`: the view layer never needs
 * them) and what it measures for the current launch (measure.js).
 * @typedef {Omit<WechatMiniprogram.Component.TrivialInstance, 'properties'> & {
 *   properties: Properties, _byId?: Record<string, Item>,
 *   _measure?: ReturnType<typeof createMeasure>, _measuring(): ReturnType<typeof createMeasure>,
 *   _launch(layout: import('./view-model').LayoutInput | null): void, _observe(): void,
 *   _unobserve(): void, _connect(): WechatMiniprogram.IntersectionObserver | undefined,
 *   _report(id: string, kind: import('../../../index').EventKind): void}} LayoutInstance
 */

Component({
  options: { multipleSlots: true },
  properties: {
    layout: { type: Object, value: null },
    client: { type: String, value: '' }, // registry name; '' = the last client created
    track: { type: Boolean, value: true },
    impressionRatio: { type: Number, value: 0.5 },
    impressionMs: { type: Number, value: 800 },
  },
  data: viewModel(null),
  observers: {
    /**
     * @this {LayoutInstance}
     * @param {import('./view-model').LayoutInput | null} layout
     */
    layout(layout) {
      const vm = viewModel(layout);
      this._byId = vm.byId;
      /** @type {Partial<import('./view-model').ViewModel>} */
      const data = vm;
      delete data.byId;
      this.setData(data);
      this._launch(layout);
    },
  },
  lifetimes: {
    /** @this {LayoutInstance} */
    attached() {
      if (!this._byId) this._byId = {};
    },
    /** @this {LayoutInstance} */
    detached() {
      this._unobserve();
    },
  },
  pageLifetimes: {
    /**
     * The page is no longer on screen (another page, the app hidden): a dwell under way is not
     * an impression, and the observer stops (it reports no change while the page is away).
     * @this {LayoutInstance}
     */
    hide() {
      this._unobserve();
    },
    /**
     * On screen again: a new observer reports what is visible now, so it can count (once per launch).
     * @this {LayoutInstance}
     */
    show() {
      if (this.properties.layout) this._observe();
    },
  },
  methods: {
    /**
     * What this instance measures (made on first use).
     * @this {LayoutInstance}
     */
    _measuring() {
      if (!this._measure) this._measure = createMeasure((id, kind) => this._report(id, kind));
      return this._measure;
    },
    /**
     * A layout arrived: a new launch when its page or version differs from the last one
     * (measurements count again), then render errors of types this renderer cannot dispatch,
     * and the visibility observer over the drawn items.
     * @this {LayoutInstance}
     * @param {import('./view-model').LayoutInput | null} layout
     */
    _launch(layout) {
      const measure = this._measuring();
      measure.launch(layout);
      if (!layout) return;
      measure.undispatched(this._byId);
      this._observe();
    },
    /** @this {LayoutInstance} */
    _unobserve() {
      this._measuring().stop();
    },
    /**
     * The visibility observer over the drawn items; none when the runtime cannot make one (no
     * createIntersectionObserver, one that throws or answers something else): no impressions
     * then, and never an error out of drawing. Dwells under way go on (the same launch).
     * @this {LayoutInstance}
     */
    _observe() {
      const measure = this._measuring();
      if (measure.disconnect()) measure.connect(() => this._connect());
    },
    /**
     * The observer over the drawn items, wired to the impressions; none without the API.
     * @this {LayoutInstance}
     */
    _connect() {
      if (typeof this.createIntersectionObserver !== 'function') return undefined;
      const impressions = this._measuring().impressions(this.properties.impressionRatio, this.properties.impressionMs);
      const observer = this.createIntersectionObserver({ thresholds: [0, impressions.ratio, 1], observeAll: true });
      if (!observer || typeof observer.relativeToViewport !== 'function') return undefined;
      observer.relativeToViewport().observe('.ui-item', (/** @type {{dataset?: {id?: string}, intersectionRatio: number}} */ res) => {
        const dataset = /** @type {{id?: string}} */ (res.dataset || {});
        if (dataset.id) impressions.observe(dataset.id, res.intersectionRatio);
      });
      return observer;
    },
    /**
     * A per-type component could not draw (it triggered `rendererror`, bubbling and composed).
     * @this {LayoutInstance}
     * @param {WechatMiniprogram.CustomEvent<{}, {}, {id: string}>} event
     */
    onRenderError(event) {
      const id = event.currentTarget && event.currentTarget.dataset && event.currentTarget.dataset.id;
      if (id && this._byId && this._byId[id]) this._measuring().renderError(id);
    },
    /**
     * Feed the registered client's `track`, with what was drawn; never throws.
     * @this {LayoutInstance}
     * @param {string} id
     * @param {import('../../../index').EventKind} kind
     */
    _report(id, kind) {
      const layout = this.properties.layout;
      if (this.properties.track && layout) trackDrawn(registry.get(this.properties.client), layout, id, kind);
    },
    /**
     * @this {LayoutInstance}
     * @param {WechatMiniprogram.TouchEvent<{}, {}, {id: string}>} event
     */
    onTap(event) {
      const id = event.currentTarget.dataset.id;
      const item = this._byId && this._byId[id];
      if (!item) return;
      const detail = actionDetail(item, this.properties.layout);
      // elderly mode: a payment or a deletion (`props.confirm`) is confirmed first
      askFirst(item, () => {
        this.triggerEvent('action', detail);
        this._report(item.id, 'click');
      });
    },
    /**
     * The page's "更多 More" entry (elderly mode) opens or closes what it folds.
     * @this {LayoutInstance}
     */
    onMore() {
      this.setData({ moreOpen: !this.data.moreOpen });
    },
    /**
     * The one-time 长辈版 prompt answered: emits `prompt` `{answer: 'accepted' | 'declined'}`
     * (store it with `client.patchSettings({elderly_prompt: answer})`) and hides the card.
     * @this {LayoutInstance}
     * @param {WechatMiniprogram.TouchEvent<{}, {}, {answer: string}>} event
     */
    onPrompt(event) {
      const answer = answerOf(event);
      if (answer) this.setData({ prompt: '' }, () => this.triggerEvent('prompt', { answer }));
    },
  },
});
