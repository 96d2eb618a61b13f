() => {
  function parse(c) {
    let m = /rgba?\(([^)]+)\)/.exec(c);
    if (m) { const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
    m = /color\(srgb ([^)]+)\)/.exec(c);
    if (m) { const p = m[1].split(/[\s\/]+/).filter(Boolean).map(Number); return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
    return null;
  }
  function over(top, bottom) { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]); }
  function lum(c) {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  }
  function backgroundOf(el) {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.push(e);
    let color = [255, 255, 255, 1];
    for (const e of chain.reverse()) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg[3] > 0) color = over(bg, color);
    }
    return color;
  }
  function opacityOf(el) { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; }
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim()) continue;
    seen.add(el);
    if (!el.getClientRects().length || el.closest('[hidden], script, style, noscript, .sr-only, [inert]')) continue;
    if (opacityOf(el) < 0.05) continue;  // not shown (e.g. a hover-only overlay)
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (el.closest(':disabled, [aria-disabled="true"]')) continue;  // WCAG 1.4.3 exempts inactive controls
    let fg = parse(style.color); if (!fg) continue;
    const bg = backgroundOf(el);
    fg = over([fg[0], fg[1], fg[2], fg[3] * opacityOf(el)], bg);
    const l1 = lum(fg), l2 = lum(bg), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need - 0.005) bad.push([el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''), n.textContent.trim().slice(0, 30), ratio.toFixed(2)]);
  }
  return bad;
}
