'use strict';
/**
 * 长辈版 (uiserver issue 24) in the renderer, shared by the WeChat/Douyin and Alipay components:
 * - a component the server marked `props.confirm` (payment, deletion) asks first, with the
 *   platform's own modal (wx.showModal / tt.showModal / my.confirm): the tap counts only after
 *   "确认 Confirm" (WCAG 3.3.4). Without a modal API the tap goes through (nothing to ask with);
 * - the one-time 长辈版 prompt (`layout.elderly.prompt`) answers `accepted` or `declined`: the app
 *   stores it with `client.patchSettings({elderly_prompt: answer})`.
 */

/** @typedef {{title: string, content: string, confirmText: string, cancelText: string,
 *   success: (res: {confirm: boolean}) => void}} ModalOptions */

const CONFIRM_TEXT = '确认 Confirm';
const CANCEL_TEXT = '取消 Cancel';
const ANSWERS = { accepted: true, declined: true };

/**
 * The platform's confirmation dialog, or null.
 * @returns {((options: ModalOptions) => void) | null}
 */
function modal() {
  /** @type {any} */
  const w = typeof wx !== 'undefined' ? wx : null;
  /** @type {any} */
  const t = typeof tt !== 'undefined' ? tt : null;
  /** @type {any} */
  const m = typeof my !== 'undefined' ? my : null;
  const showModal = [w, t].find((api) => api && typeof api.showModal === 'function');
  if (showModal) return (o) => showModal.showModal(o);
  if (m && typeof m.confirm === 'function') {
    return (o) => m.confirm({ title: o.title, content: o.content, confirmButtonText: o.confirmText,
      cancelButtonText: o.cancelText, success: o.success });
  }
  return null;
}

/**
 * Run `proceed` now, or once the user confirms when the item asks first.
 * @param {{label: string, spoken?: string, props: Record<string, unknown>}} item
 * @param {() => void} proceed
 */
function askFirst(item, proceed) {
  const show = item.props && item.props.confirm === true ? modal() : null;
  if (!show) {
    proceed();
    return;
  }
  show({
    title: item.label,
    content: '确定要继续吗？ Continue?',
    confirmText: CONFIRM_TEXT,
    cancelText: CANCEL_TEXT,
    success: (res) => { if (res && res.confirm) proceed(); },
  });
}

/**
 * The prompt's answer a tap carries (`data-answer`), or null.
 * @param {{currentTarget?: {dataset?: {answer?: unknown}}}} event
 * @returns {'accepted' | 'declined' | null}
 */
function answerOf(event) {
  const answer = event && event.currentTarget && event.currentTarget.dataset && event.currentTarget.dataset.answer;
  if (typeof answer !== 'string' || !Object.prototype.hasOwnProperty.call(ANSWERS, answer)) return null;
  return answer === 'accepted' ? 'accepted' : 'declined';
}

module.exports = { askFirst, answerOf, CONFIRM_TEXT };
