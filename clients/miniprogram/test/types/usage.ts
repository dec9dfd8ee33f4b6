// Compiled by `tsc` in `npm test`: the declarations describe how an app uses the SDK.
import { createLayoutClient, Layout, LayoutActionDetail, RevalidateStatus } from '../../index';

declare const bundled: Layout;

const client = createLayoutClient({
  baseUrl: 'https://ui.example.com',
  getToken: async () => 'jwt',
  defaults: { home: bundled },
  request: wx.request,
  storage: wx,
});

async function onLaunch(): Promise<void> {
  const { layout, source, revalidation } = await client.launch('home', { font_px: 24, dark: false });
  const first: 'cache' | 'default' | 'network' = source;
  const mode: 'standard' | 'elderly' = layout.mode;
  const next = await revalidation;
  const status: RevalidateStatus | undefined = next?.status;
  const stop = client.onUpdate((page, updated, meta) => {
    if (meta.applyNow) console.log(page, updated.theme.font_px);
  });
  stop();
  client.track('home', 'search', 'convert', 12.5);
  await client.patchSettings({ elderly_mode: 'on', font_scale: null });
  void [first, mode, status];
}

function onAction(event: WechatMiniprogram.CustomEvent<LayoutActionDetail>): string {
  return event.detail.placement;
}

void onLaunch;
void onAction;
