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

Component({
  options: { multipleSlots: true },
  properties: {
    layout: { type: Object, value: null },
    client: { type: String, value: '' }, // registry name; '' = the last client created
    track: { type: Boolean, value: true },
  },
  data: viewModel(null),
  observers: {
    layout(layout) {
      const vm = viewModel(layout);
      this._byId = vm.byId;
      delete vm.byId;
      this.setData(vm);
    },
  },
  lifetimes: {
    attached() {
      if (!this._byId) this._byId = {};
    },
  },
  methods: {
    onTap(event) {
      const id = event.currentTarget.dataset.id;
      const item = this._byId && this._byId[id];
      if (!item) return;
      const page = (this.properties.layout && this.properties.layout.page) || '';
      this.triggerEvent('action', {
        id: item.id, type: item.type, role: item.role, placement: item.placement, props: item.props, page,
      });
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
