'use strict';
/**
 * <ui-layout layout="{{layout}}" bind:action="onAction" />: draws a uiserver layout document.
 * Each component goes through the abstract node named after its type (the app provides one
 * with `generic:product_grid="my-grid"`), else the plain <ui-block>. A tap emits `action`
 * ({id, type, role, placement, props, page}) and, unless `track` is false, feeds the registered
 * client's `track(page, id, "click")`.
 */
const { viewModel } = require('./view-model');
const registry = require('../../registry');

/** @typedef {import('./view-model').Item} Item */
/** @typedef {{layout: import('./view-model').LayoutInput | null, client: string, track: boolean}} Properties */
/**
 * The instance: its properties, and the items by id (kept off `data`: the view layer never
 * needs them).
 * @typedef {Omit<WechatMiniprogram.Component.TrivialInstance, 'properties'> & {
 *   properties: Properties, _byId?: Record<string, Item>}} LayoutInstance
 */

Component({
  options: { multipleSlots: true },
  properties: {
    layout: { type: Object, value: null },
    client: { type: String, value: '' }, // registry name; '' = the last client created
    track: { type: Boolean, value: true },
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
    },
  },
  lifetimes: {
    /** @this {LayoutInstance} */
    attached() {
      if (!this._byId) this._byId = {};
    },
  },
  methods: {
    /**
     * @this {LayoutInstance}
     * @param {WechatMiniprogram.TouchEvent<{}, {}, {id: string}>} event
     */
    onTap(event) {
      const id = event.currentTarget.dataset.id;
      const item = this._byId && this._byId[id];
      if (!item) return;
      const layout = this.properties.layout;
      const page = (layout && layout.page) || '';
      /** @type {import('../../../index').LayoutActionDetail} */
      const detail = {
        id: item.id, type: item.type, role: item.role, placement: item.placement, props: item.props, page,
      };
      this.triggerEvent('action', detail);
      if (!this.properties.track) return;
      const client = registry.get(this.properties.client);
      if (client && typeof client.track === 'function') {
        try {
          client.track(page, item.id, 'click');
        } catch (e) {
          // tracking must never break a tap
        }
      }
    },
  },
});
