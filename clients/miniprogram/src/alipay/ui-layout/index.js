'use strict';
/**
 * <ui-layout layout="{{layout}}" onAction="onAction" /> for Alipay mini-programs: the WeChat
 * renderer's view model and markup (index.axml is generated from index.wxml by
 * scripts/gen-platforms.js) over Alipay's Component API: `props` (with the `onAction` callback
 * instead of an event), `didMount` / `didUpdate`. A tap calls `onAction({id, type, role,
 * placement, props, page})` and, unless `track` is false, the registered client's
 * `track(page, id, "click", {version, mode})` (what was drawn, as on WeChat).
 */
const { viewModel, drawnDetail } = require('../../components/ui-layout/view-model');
const { askFirst, answerOf } = require('../../components/ui-layout/elderly');
const registry = require('../../registry');

/** @typedef {import('../../components/ui-layout/view-model').Item} Item */
/**
 * @typedef {{layout: import('../../components/ui-layout/view-model').LayoutInput | null,
 *   client: string, track: boolean, onAction: ((detail: object) => void) | null,
 *   onPrompt?: ((detail: {answer: string}) => void) | null}} Props
 */
/**
 * @typedef {{props: Props, data: Record<string, unknown>, setData(data: object): void,
 *   _byId?: Record<string, Item>, apply(layout: Props['layout']): void,
 *   act(page: string, id: string, detail: Record<string, unknown>): void}} Instance
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

/** @type {(options: object) => void} Alipay's Component (typed here: no Alipay typings) */
const define = /** @type {any} */ (Component);

define({
  props: { layout: null, client: '', track: true, onAction: null },
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
  methods: {
    /**
     * @this {Instance}
     * @param {Props['layout']} layout
     */
    apply(layout) {
      const { data, byId } = dataOf(layout);
      this._byId = byId;
      this.setData(data);
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
      askFirst(item, () => this.act(page, item.id, detail));
    },
    /**
     * @this {Instance}
     * @param {string} page
     * @param {string} id
     * @param {Record<string, unknown>} detail
     */
    act(page, id, detail) {
      if (typeof this.props.onAction === 'function') this.props.onAction(detail);
      if (!this.props.track) return;
      const client = registry.get(this.props.client);
      if (client && typeof client.track === 'function') {
        try {
          client.track(page, id, 'click', drawnDetail(this.props.layout)); // the version and mode drawn
        } catch (e) {
          // tracking must never break a tap
        }
      }
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
