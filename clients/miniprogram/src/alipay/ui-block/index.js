'use strict';
/**
 * The plain block for Alipay: WeChat's <ui-block> (the same `blockView`; index.axml generated
 * from its WXML) over Alipay's Component API (`props`, didMount / didUpdate). AXML reads a
 * component's props as `props.x`, the WXML reads `component`: it is copied into `data`.
 */
const { blockView } = require('../../components/ui-block/block-view');

/**
 * @typedef {{props: {component: import('../../components/ui-layout/view-model').Item | null,
 *   theme: import('../../components/ui-layout/view-model').ViewModel['theme'] | null},
 *   setData(data: object): void, apply(): void}} Instance
 */

/** @type {(options: object) => void} Alipay's Component */
const define = /** @type {any} */ (Component);

define({
  props: { component: null, theme: null },
  data: { kind: 'card', style: '', tabs: [], component: null },
  /** @this {Instance} */
  didMount() { this.apply(); },
  /** @this {Instance} */
  didUpdate() { this.apply(); },
  methods: {
    /** @this {Instance} */
    apply() {
      const component = this.props.component;
      if (component) this.setData(Object.assign({ component }, blockView(component, this.props.theme)));
    },
  },
});
