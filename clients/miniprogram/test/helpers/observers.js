'use strict';
// A mini-program IntersectionObserver double (WeChat/Douyin `createIntersectionObserver`, Alipay's
// `my.createIntersectionObserver`): the test says what is visible, and a disconnected observer
// reports nothing, as a runtime's.

/** A result naming the node by its `data-id` (WeChat, Douyin). */
const byDataset = (id) => ({ dataset: { id } });
/** A result naming the node by its id, `ui-<component id>` (Alipay). */
const byNodeId = (id) => ({ id: 'ui-' + id });

/**
 * `create(options)` makes an observer (kept in `made`, the newest is `last()`); its `show(id,
 * ratio)` calls the `observe(selector, callback)` callback with a result named by `name(id)`.
 * @param {(id: string) => object} [name] how a result names its node (default `byDataset`)
 */
function fakeObservers(name = byDataset) {
  const made = [];
  const create = (options) => {
    const ob = {
      options, selector: null, callback: null, disconnected: false,
      relativeToViewport() { return ob; },
      observe(selector, callback) { ob.selector = selector; ob.callback = callback; },
      disconnect() { ob.disconnected = true; },
      show(id, ratio) { if (!ob.disconnected) ob.callback(Object.assign(name(id), { intersectionRatio: ratio })); },
    };
    made.push(ob);
    return ob;
  };
  return { made, create, last: () => made[made.length - 1] };
}

module.exports = { fakeObservers, byDataset, byNodeId };
