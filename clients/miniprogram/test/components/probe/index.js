// A per-type component for the shared persona cases (test/cases.test.js): it draws what
// <ui-layout> handed it, the component's id and props and the theme, as JSON text, so a test
// reads from the DOM what an app's own component would receive.
Component({
  properties: { component: Object, theme: Object },
  data: { received: '' },
  observers: {
    'component, theme'(component, theme) {
      const c = component || {};
      this.setData({ received: JSON.stringify({ id: c.id, type: c.type, props: c.props, theme }) });
    },
  },
});
