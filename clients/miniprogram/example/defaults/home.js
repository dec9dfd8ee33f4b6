// The home layout bundled with the app: shown on a first launch while the network answers.
// Generated from the real server by `npm run gen:fixtures` (anonymous, phone, zh-CN).
module.exports = {
  "schema": 1,
  "page": "home",
  "template_version": "42b566fd0f10b3b1",
  "variant": null,
  "mode": "standard",
  "theme": {
    "font_px": 16,
    "line_height": 1.5,
    "motion": "full",
    "high_contrast": false,
    "palette": {
      "text": "#1F1F1F",
      "background": "#FFFFFF",
      "primary": "#C4320A",
      "on_primary": "#FFFFFF",
      "muted": "#5C5C5C",
      "surface": "#F5F5F5"
    },
    "dark": false,
    "direction": "ltr"
  },
  "components": [
    {
      "id": "header",
      "type": "page_header",
      "role": "navigation",
      "label": "鲜到家 FreshMart",
      "font_px": 17,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": true,
      "props": {
        "show_back": false,
        "show_location": true
      },
      "reasons": []
    },
    {
      "id": "search",
      "type": "search_bar",
      "role": "search",
      "label": "搜索商品 Search products",
      "font_px": 16,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": true,
      "props": {
        "hot_words": true,
        "placeholder": "搜索水果、蔬菜、外卖 Search fruit, vegetables, takeout"
      },
      "reasons": []
    },
    {
      "id": "notice",
      "type": "notice_bar",
      "role": "status",
      "label": "公告：春节期间配送时间调整 Notice: delivery hours change over Spring Festival",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "closable": true
      },
      "reasons": []
    },
    {
      "id": "banner",
      "type": "banner_carousel",
      "role": "banner",
      "label": "首页活动轮播 Featured promotions",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "interval_ms": 4000,
        "max_items": 5
      },
      "reasons": []
    },
    {
      "id": "categories",
      "type": "category_grid",
      "role": "navigation",
      "label": "商品分类 Shop by category",
      "font_px": 13,
      "min_target_px": 48,
      "placement": "flow",
      "pinned": true,
      "props": {
        "rows": 2
      },
      "reasons": []
    },
    {
      "id": "nearby_stores",
      "type": "service_entry",
      "role": "link",
      "label": "附近门店自提 Pick up at a nearby store",
      "font_px": 15,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "order_status",
      "type": "order_status",
      "role": "status",
      "label": "我的订单进度 My order status",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_orders": 2
      },
      "reasons": []
    },
    {
      "id": "coupons",
      "type": "coupon_strip",
      "role": "list",
      "label": "领券中心 Coupon centre",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 6
      },
      "reasons": []
    },
    {
      "id": "flash_sale",
      "type": "flash_sale",
      "role": "list",
      "label": "限时秒杀 Flash sale",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 8
      },
      "reasons": []
    },
    {
      "id": "ad_top",
      "type": "ad_slot",
      "role": "region",
      "label": "广告：夏日新品饮料 Advertisement: new summer drinks",
      "font_px": 12,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "size": "750x200",
        "slot": "home-top"
      },
      "reasons": []
    },
    {
      "id": "fresh_title",
      "type": "section_title",
      "role": "heading",
      "label": "新鲜果蔬 Fresh fruit and vegetables",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "fresh_grid",
      "type": "product_grid",
      "role": "list",
      "label": "新鲜果蔬商品 Fresh produce",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 6,
        "source": "aisle:fresh_produce"
      },
      "reasons": []
    },
    {
      "id": "meat_title",
      "type": "section_title",
      "role": "heading",
      "label": "肉禽蛋品 Meat, poultry and eggs",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "meat_grid",
      "type": "product_grid",
      "role": "list",
      "label": "肉禽蛋品商品 Meat, poultry and eggs products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 6,
        "source": "aisle:meat"
      },
      "reasons": []
    },
    {
      "id": "seafood_title",
      "type": "section_title",
      "role": "heading",
      "label": "海鲜水产 Seafood",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "seafood_grid",
      "type": "product_grid",
      "role": "list",
      "label": "海鲜水产商品 Seafood products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 6,
        "source": "aisle:seafood"
      },
      "reasons": []
    },
    {
      "id": "ad_middle",
      "type": "ad_slot",
      "role": "region",
      "label": "广告：进口牛奶买一送一 Advertisement: imported milk, buy one get one",
      "font_px": 12,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "size": "750x160",
        "slot": "home-middle"
      },
      "reasons": []
    },
    {
      "id": "dairy_title",
      "type": "section_title",
      "role": "heading",
      "label": "乳品烘焙 Dairy and bakery",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "dairy_grid",
      "type": "product_grid",
      "role": "list",
      "label": "乳品烘焙商品 Dairy and bakery products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 6,
        "source": "aisle:dairy"
      },
      "reasons": []
    },
    {
      "id": "snacks_title",
      "type": "section_title",
      "role": "heading",
      "label": "零食饮料 Snacks and drinks",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "snacks_grid",
      "type": "product_grid",
      "role": "list",
      "label": "零食饮料商品 Snacks and drinks products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 6,
        "source": "aisle:snacks"
      },
      "reasons": []
    },
    {
      "id": "live",
      "type": "live_stream_card",
      "role": "region",
      "label": "直播：产地直发的荔枝 Live: lychees straight from the orchard",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "muted": true
      },
      "reasons": []
    },
    {
      "id": "takeout_title",
      "type": "section_title",
      "role": "heading",
      "label": "附近美食外卖 Food delivery nearby",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "restaurants",
      "type": "store_list",
      "role": "list",
      "label": "附近餐厅 Restaurants near you",
      "font_px": 15,
      "min_target_px": 48,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 5,
        "sort": "distance"
      },
      "reasons": []
    },
    {
      "id": "ready_meals_title",
      "type": "section_title",
      "role": "heading",
      "label": "快手菜 Ready-to-cook meals",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "ready_meals_grid",
      "type": "product_grid",
      "role": "list",
      "label": "快手菜商品 Ready-to-cook meal kits",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 4,
        "source": "aisle:ready_meals"
      },
      "reasons": []
    },
    {
      "id": "frozen_title",
      "type": "section_title",
      "role": "heading",
      "label": "速冻食品 Frozen food",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "frozen_grid",
      "type": "product_grid",
      "role": "list",
      "label": "速冻食品商品 Frozen food products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 4,
        "source": "aisle:frozen"
      },
      "reasons": []
    },
    {
      "id": "member",
      "type": "member_card",
      "role": "region",
      "label": "开通会员，每单省运费 Join membership, free delivery on every order",
      "font_px": 15,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "bestsellers",
      "type": "rank_list",
      "role": "list",
      "label": "热销榜单 Best sellers",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 10
      },
      "reasons": []
    },
    {
      "id": "imported_title",
      "type": "section_title",
      "role": "heading",
      "label": "进口好物 Imported goods",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "imported_grid",
      "type": "product_grid",
      "role": "list",
      "label": "进口好物商品 Imported products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 4,
        "source": "aisle:imported"
      },
      "reasons": []
    },
    {
      "id": "household_title",
      "type": "section_title",
      "role": "heading",
      "label": "日用百货 Household essentials",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "household_grid",
      "type": "product_grid",
      "role": "list",
      "label": "日用百货商品 Household products",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 4,
        "source": "aisle:household"
      },
      "reasons": []
    },
    {
      "id": "recently_viewed",
      "type": "recently_viewed",
      "role": "list",
      "label": "最近浏览 Recently viewed",
      "font_px": 13,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "max_items": 10
      },
      "reasons": []
    },
    {
      "id": "ad_bottom",
      "type": "ad_slot",
      "role": "region",
      "label": "广告：厨房电器特惠 Advertisement: kitchen appliance deals",
      "font_px": 12,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "size": "750x160",
        "slot": "home-bottom"
      },
      "reasons": []
    },
    {
      "id": "guess_title",
      "type": "section_title",
      "role": "heading",
      "label": "猜你喜欢 Guess you like",
      "font_px": 18,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "guess",
      "type": "guess_you_like",
      "role": "list",
      "label": "为你推荐 Recommended for you",
      "font_px": 14,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {
        "infinite": true,
        "page_size": 20
      },
      "reasons": []
    },
    {
      "id": "service",
      "type": "help_entry",
      "role": "link",
      "label": "在线客服 Customer service",
      "font_px": 15,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "footer",
      "type": "footer_note",
      "role": "text",
      "label": "没有更多了 You have reached the end",
      "font_px": 12,
      "min_target_px": 44,
      "placement": "flow",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "cart_shortcut",
      "type": "secondary_button",
      "role": "button",
      "label": "购物车 Cart",
      "font_px": 16,
      "min_target_px": 44,
      "placement": "floating_right",
      "pinned": false,
      "props": {
        "badge": "cart_count"
      },
      "reasons": []
    },
    {
      "id": "back_to_top",
      "type": "back_to_top",
      "role": "button",
      "label": "回到顶部 Back to top",
      "font_px": 12,
      "min_target_px": 44,
      "placement": "bottom_right",
      "pinned": false,
      "props": {},
      "reasons": []
    },
    {
      "id": "tab_bar",
      "type": "tab_bar",
      "role": "tablist",
      "label": "底部导航 Main navigation",
      "font_px": 12,
      "min_target_px": 50,
      "placement": "flow",
      "pinned": true,
      "props": {
        "items": [
          {
            "page": "home",
            "text": "首页 Home"
          },
          {
            "page": "category",
            "text": "分类 Categories"
          },
          {
            "page": "cart",
            "text": "购物车 Cart"
          },
          {
            "page": "me",
            "text": "我的 Me"
          }
        ]
      },
      "reasons": []
    }
  ],
  "personalization": {
    "strength": 0,
    "cap": 0,
    "changed_ratio": 0,
    "capped": false,
    "changes": []
  },
  "reasons": []
};
