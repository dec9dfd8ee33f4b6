// The home page: the stored (or bundled) layout at once, a fresher one when it arrives.
const PAGE = 'home';

Page({
  data: { layout: null, source: '' },

  onLoad() {
    const client = getApp().globalData.client;
    // a layout that arrives right after launch is applied at once; a later one waits for the
    // next time the page shows, so nothing moves under the user's finger
    this.stopUpdates = client.onUpdate((page, layout, meta) => {
      if (page !== PAGE) return;
      if (meta.applyNow) this.setData({ layout, source: 'network' });
      else this.pending = layout;
    });
    return client.launch(PAGE).then(({ layout, source }) => {
      this.setData({ layout, source });
    }).catch((err) => {
      // no stored copy, no bundled default and no network: nothing to draw
      this.setData({ source: 'unavailable: ' + err.message });
    });
  },

  onShow() {
    if (this.pending) {
      this.setData({ layout: this.pending, source: 'network' });
      this.pending = null;
    }
  },

  onUnload() {
    if (this.stopUpdates) this.stopUpdates();
  },

  onPullDownRefresh() {
    return getApp().globalData.client.revalidate(PAGE).then(({ layout }) => {
      if (layout) this.setData({ layout });
      wx.stopPullDownRefresh();
    });
  },

  onAction(event) {
    // taps are already tracked by <ui-layout>; here the app decides what a tap does
    const { id, label, props } = Object.assign({ label: '' }, event.detail);
    if (props && props.page) wx.showToast({ title: String(props.page), icon: 'none' });
    else wx.showToast({ title: id + label, icon: 'none' });
  },
});
