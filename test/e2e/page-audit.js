/* Functions run inside the browser page by test/e2e/pages.test.ts (page.evaluate). Plain JS: the
   test project has no DOM typings. */
// biome-ignore-all lint/correctness/noUnusedVariables: the page calls these functions by name

/** Structure, horizontal overflow and the lowest contrast of any visible text (WCAG 2.2 relative luminance). */
function auditPage() {
  const parse = (c) => {
    const n = ((/rgba?\(([^)]+)\)/.exec(c) || [])[1] || '0,0,0,0')
      .split(/[\s,/]+/)
      .filter(Boolean)
      .map(Number);
    return { r: n[0] || 0, g: n[1] || 0, b: n[2] || 0, a: n.length > 3 ? n[3] : 1 };
  };
  const channel = (v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  let min = { ratio: 21, text: '', color: '', background: '' };
  for (const el of Array.from(document.body.querySelectorAll('*'))) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent || '').trim() !== '');
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const fg = parse(getComputedStyle(el).color);
    const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < min.ratio)
      min = { ratio, text: (el.textContent || '').trim().slice(0, 60), color: getComputedStyle(el).color, background: `rgb(${bg.r}, ${bg.g}, ${bg.b})` };
  }
  return {
    lang: document.documentElement.lang,
    viewport: (document.querySelector('meta[name="viewport"]') || { getAttribute: () => null }).getAttribute('content'),
    h1: document.querySelectorAll('h1').length,
    main: document.querySelectorAll('main').length,
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    minContrast: min,
    controls: document.querySelectorAll('a[href], button, input:not([type=hidden])').length,
  };
}

/** Numbers every control, drops the focus, returns how many there are. */
function markControls() {
  const all = Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden])'));
  all.forEach((el, i) => {
    el.setAttribute('data-tab-id', String(i));
  });
  if (document.activeElement) document.activeElement.blur();
  return all.length;
}

/** The focused control: its number, label and whether its focus outline is visible. */
function focusedControl() {
  const el = document.activeElement;
  if (!el?.hasAttribute('data-tab-id')) return null;
  const style = getComputedStyle(el);
  return {
    id: el.getAttribute('data-tab-id'),
    label: (el.textContent || '').trim() || el.name,
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
  };
}

function blurFocus() {
  if (document.activeElement) document.activeElement.blur();
}

function focusedText() {
  return (document.activeElement?.textContent || '').trim();
}

/** Adds a link to the current page (a link on another site). */
function addLink(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  document.body.append(a);
}
