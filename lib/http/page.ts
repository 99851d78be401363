/**
 * The one look of fedgate's own pages (errors, 403, chooser, consent, consents, sign-out) and the
 * `views` hooks that let an application render them in its own layout instead.
 *
 * Pages are plain semantic HTML with one inline style sheet: no script, no external resource
 * (the Content-Security-Policy allows neither), readable on a 390 px phone without sideways
 * scrolling, text and controls at WCAG 2.2 AA contrast (≥ 4.5:1,
 * https://www.w3.org/TR/WCAG22/#contrast-minimum) with a visible keyboard focus
 * (https://www.w3.org/TR/WCAG22/#focus-visible).
 */

/** A form a page must render as is: where it posts and the hidden fields (CSRF token included). */
export interface PageForm {
  method: 'get' | 'post';
  action: string;
  /** Hidden fields, by name; render each as `<input type="hidden">`. Carries the form token. */
  fields: Readonly<Record<string, string>>;
}

/** What every view gets: where "back" goes and where fedgate's routes live. */
export interface ViewBase {
  /** The application's home (`baseUrl` + `/`): the way back from every page. */
  homeUrl: string;
  /** fedgate's route prefix (`/auth` by default). */
  basePath: string;
}

/**
 * Renders the connector chooser; apps may supply their own. Must escape what it prints.
 * `loginHint` is set when an e-mail was entered whose domain no connector claims (home-realm
 * discovery found nothing): show it again with a notice.
 */
export type ChooserRenderer = (input: {
  connectors: ReadonlyArray<{ id: string; name: string; loginUrl: string }>;
  returnTo: string;
  formAction: string;
  loginHint?: string;
}) => string;

/** An error page: the safe message and the code; never the internal detail. */
export interface ErrorViewContext extends ViewBase {
  status: number;
  code: string;
  message: string;
  /** A link that starts a new sign-in, when trying again makes sense (failed login). */
  retryUrl?: string;
}

/** The 403 page of `requireAuth` (claims or check failed). */
export interface ForbiddenViewContext extends ViewBase {
  code: 'FORBIDDEN';
  /** Signs out, then back to the sign-in for the same page: "sign in with another account". */
  switchAccountUrl: string;
}

/** The connector chooser. `form` is the work e-mail (home-realm discovery) form. */
export interface ChooserViewContext extends ViewBase {
  connectors: ReadonlyArray<{ id: string; name: string; loginUrl: string }>;
  returnTo: string;
  /** GET form: render `fields` as hidden inputs and a `login_hint` e-mail input. */
  form: PageForm;
  /** The e-mail entered when no connector claims its domain: show it again with a notice. */
  loginHint?: string;
}

/** One thing a broker client asks for on the consent page. */
export interface ConsentPermission {
  /** The scope, as requested (`profile`, or `reports:read` of an API). */
  scope: string;
  /** Plain-language description. */
  description: string;
  /** Claims this scope releases (OIDC scopes). */
  claims: readonly string[];
  /** The API (resource indicator) for resource scopes. */
  resource?: string;
}

/** The consent page of broker mode. The form needs one submit named `decision`: `approve` or `deny`. */
export interface ConsentViewContext extends ViewBase {
  clientName: string;
  permissions: readonly ConsentPermission[];
  /** Who is signed in, so a user on a shared device notices the wrong account. */
  signedInAs?: string;
  form: PageForm;
  decision: { name: 'decision'; approve: 'approve'; deny: 'deny' };
}

/** The list of applications a user allowed (broker mode), each with its withdrawal form. */
export interface ConsentsViewContext extends ViewBase {
  applications: ReadonlyArray<{ clientId: string; clientName: string; allowed: readonly string[]; withdraw: PageForm }>;
}

/**
 * A sign-out confirmation (a cross-site sign-out link, or a broker client's RP-initiated logout).
 * Render `form` with a submit carrying `confirm` when set; `cancel` is a second submit without
 * it (broker) or a link.
 */
export interface LogoutConfirmViewContext extends ViewBase {
  /** The client application that asked, in broker mode. */
  clientName?: string;
  form: PageForm;
  confirm?: { name: string; value: string };
  cancel: { kind: 'submit' } | { kind: 'link'; href: string };
}

/**
 * `fedgate(config, { views })`: each function returns a whole HTML document (escape what you
 * insert). A view that is missing or throws falls back to fedgate's own page.
 */
export interface FedgateViews {
  error?(ctx: ErrorViewContext): string;
  forbidden?(ctx: ForbiddenViewContext): string;
  chooser?(ctx: ChooserViewContext): string;
  consent?(ctx: ConsentViewContext): string;
  consents?(ctx: ConsentsViewContext): string;
  logoutConfirm?(ctx: LogoutConfirmViewContext): string;
}

/** What the gateway knows about rendering pages; carried on the request for framework-free helpers. */
export interface PageKit {
  homeUrl: string;
  basePath: string;
  views?: FedgateViews;
  /** `errorHandler: 'next'`: errors go to Express's error handler instead of a page. */
  errorsToNext: boolean;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=/]/g, (c) => `&#${c.charCodeAt(0)};`);
}
const e = escapeHtml;

/** Contrast (white background): text #1f2328 15.8:1, muted #4b5563 7.6:1, links and primary #1d4ed8 6.7:1. */
const styles = [
  '*,*::before,*::after{box-sizing:border-box}',
  'html{-webkit-text-size-adjust:100%}',
  'body{margin:0;min-height:100vh;background:#f3f4f6;color:#1f2328;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;overflow-wrap:anywhere}',
  '.wrap{max-width:30rem;margin:0 auto;padding:2.5rem 1rem}',
  'main{background:#fff;border:1px solid #d1d5db;border-radius:.75rem;padding:1.5rem}',
  'h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}h2{font-size:1.125rem;margin:1.25rem 0 .5rem}',
  'p{margin:0 0 1rem}ul{margin:0 0 1rem;padding-left:1.25rem}li{margin:.25rem 0}',
  'a{color:#1d4ed8;text-underline-offset:.15em}',
  'code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em;background:#f3f4f6;border-radius:.25rem;padding:.05rem .3rem}',
  '.muted{color:#4b5563}',
  '.list{list-style:none;padding:0}',
  '.button,button{display:block;width:100%;min-height:2.75rem;margin:.5rem 0;padding:.625rem 1rem;border:1px solid #1d4ed8;border-radius:.5rem;'
    + 'background:#1d4ed8;color:#fff;font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}',
  '.button.secondary,button.secondary{background:#fff;color:#1d4ed8}',
  '.button:hover,button:hover{background:#1e40af;border-color:#1e40af;color:#fff}',
  'a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}',
  'label{display:block;font-weight:600;margin:1rem 0 .25rem}',
  'input[type=email]{display:block;width:100%;min-height:2.75rem;padding:.5rem .75rem;border:1px solid #6b7280;border-radius:.5rem;font:inherit;color:inherit;background:#fff}',
  '.notice{border-left:4px solid #b45309;background:#fffbeb;padding:.5rem .75rem}',
  '.card{border:1px solid #d1d5db;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}.card h2{margin-top:0}',
  '.back{margin:1.25rem 0 0;text-align:center}',
  'main>:last-child,.card>:last-child,form>:last-child{margin-bottom:0}',
].join('');

/**
 * The shared layout: a whole document with `lang`, viewport, title, one `<main>` with the page
 * and a link back to the application. `body` is trusted markup (escape before).
 */
export function layout(title: string, body: string, homeUrl = '/'): string {
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
    + `<meta name="robots" content="noindex"><title>${e(title)}</title><style>${styles}</style></head>`
    + `<body><div class="wrap"><main>${body}</main><p class="back"><a href="${e(homeUrl)}">Back to the application</a></p></div></body></html>`
  );
}

const hidden = (form: PageForm) =>
  Object.entries(form.fields)
    .map(([k, v]) => `<input type="hidden" name="${e(k)}" value="${e(v)}">`)
    .join('');
const formOpen = (form: PageForm, extra = '') => `<form method="${form.method}" action="${e(form.action)}"${extra}>${hidden(form)}`;

/** fedgate's own pages, used when the app's `views` has none (or its view throws). */
export const defaultViews: Required<FedgateViews> = {
  error: (c) =>
    layout(
      c.status >= 500 ? 'Temporarily unavailable' : 'Sign-in problem',
      `<h1>${c.status >= 500 ? 'Temporarily unavailable' : 'Sign-in problem'}</h1><p>${e(c.message)}</p>`
        + `<p class="muted">Error code: <code>${e(c.code)}</code></p>`
        + (c.retryUrl !== undefined ? `<a class="button" href="${e(c.retryUrl)}">Try again</a>` : ''),
      c.homeUrl,
    ),
  forbidden: (c) =>
    layout(
      'Access denied',
      '<h1>Access denied</h1>'
        + '<p>You are signed in, but this page needs permissions your account does not have.</p>'
        + `<p class="muted">Error code: <code>${e(c.code)}</code></p>`
        + `<a class="button" href="${e(c.switchAccountUrl)}">Sign in with another account</a>`,
      c.homeUrl,
    ),
  chooser: (c) => {
    const links = c.connectors.map((x) => `<li><a class="button" href="${e(x.loginUrl)}">Sign in with ${e(x.name)}</a></li>`).join('');
    const notice =
      c.loginHint !== undefined ? '<p class="notice" role="alert">No sign-in provider is set up for that e-mail address. Choose one below.</p>' : '';
    return layout(
      'Sign in',
      `<h1>Sign in</h1>${notice}<nav aria-label="Sign-in providers"><ul class="list">${links}</ul></nav>`
        + `${formOpen(c.form)}<label for="login_hint">Or continue with your work e-mail</label>`
        + `<input id="login_hint" name="login_hint" type="email" autocomplete="email" required maxlength="256"${c.loginHint !== undefined ? ` value="${e(c.loginHint)}"` : ''}>`
        + '<button type="submit" class="secondary">Continue</button></form>',
      c.homeUrl,
    );
  },
  consent: (c) => {
    const items = c.permissions
      .map((p) => {
        const claims = p.claims.length ? ` <span class="muted">(${p.claims.map((x) => `<code>${e(x)}</code>`).join(', ')})</span>` : '';
        return `<li>${e(p.description)}${claims}</li>`;
      })
      .join('');
    const who = c.signedInAs !== undefined ? `<p>Signed in as <strong>${e(c.signedInAs)}</strong>.</p>` : '';
    return layout(
      `Allow ${c.clientName}?`,
      `<h1 id="consent-title">Allow <strong>${e(c.clientName)}</strong> to access your account?</h1>${who}`
        + `<section aria-labelledby="consent-list"><h2 id="consent-list">${e(c.clientName)} is asking to:</h2><ul>${items}</ul></section>`
        + formOpen(c.form, ' aria-labelledby="consent-title"')
        + `<button type="submit" name="${c.decision.name}" value="${c.decision.approve}">Allow</button>`
        + `<button type="submit" class="secondary" name="${c.decision.name}" value="${c.decision.deny}">Deny</button></form>`
        + '<p class="muted">You can withdraw this later on the page listing the applications you allowed.</p>',
      c.homeUrl,
    );
  },
  consents: (c) => {
    const rows = c.applications.map(
      (a) =>
        `<li class="card"><h2>${e(a.clientName)}</h2>`
        + `<p>Allowed: ${a.allowed.length ? a.allowed.map((s) => `<code>${e(s)}</code>`).join(', ') : 'nothing'}</p>`
        + `${formOpen(a.withdraw)}<button type="submit" class="secondary" aria-label="Withdraw access of ${e(a.clientName)}">Withdraw access</button></form></li>`,
    );
    const list = rows.length ? `<ul class="list">${rows.join('')}</ul>` : '<p>You have not allowed any application.</p>';
    return layout('Applications you allowed', `<h1>Applications you allowed</h1>${list}`, c.homeUrl);
  },
  logoutConfirm: (c) => {
    const from = c.clientName !== undefined ? ` from ${e(c.clientName)}` : '';
    const confirm = c.confirm !== undefined ? ` name="${e(c.confirm.name)}" value="${e(c.confirm.value)}"` : '';
    // A client's sign-out (broker) stays a yes/no question; a sign-out link from another site is a plain choice.
    const broker = c.cancel.kind === 'submit';
    const cancel =
      c.cancel.kind === 'submit'
        ? `<button type="submit" class="secondary">No, stay signed in${c.clientName !== undefined ? ` (only leave ${e(c.clientName)})` : ''}</button>`
        : `<a class="button secondary" href="${e(c.cancel.href)}">Stay signed in</a>`;
    return layout(
      'Sign out',
      `<h1>Sign out?</h1><p>${broker ? `You asked to sign out${from}.` : 'A link asked to sign you out of this application.'}</p>`
        + `${formOpen(c.form)}<button type="submit"${confirm} autofocus>${broker ? 'Yes, sign me out' : 'Sign out'}</button>${cancel}</form>`,
      c.homeUrl,
    );
  },
};

/** Renders one page: the app's view when it has one that returns a string, else fedgate's own. */
export function renderView<K extends keyof FedgateViews>(kit: PageKit | undefined, name: K, ctx: Parameters<Required<FedgateViews>[K]>[0]): string {
  const custom = kit?.views?.[name] as ((c: typeof ctx) => unknown) | undefined;
  if (custom) {
    try {
      const html = custom(ctx);
      if (typeof html === 'string') return html;
    } catch {
      // The app's template failed: fedgate's own page still gets the user somewhere.
    }
  }
  return (defaultViews[name] as (c: typeof ctx) => string)(ctx);
}

/** Page settings when the gateway did not record any (a route outside the gateway). */
export function pageBase(kit: PageKit | undefined): ViewBase {
  return { homeUrl: kit?.homeUrl ?? '/', basePath: kit?.basePath ?? '/auth' };
}

/** The symbol of the gateway's info object on a request (the same one `requireAuth` reads). */
const infoKey = Symbol.for('fedgate.gateway');

/** The page settings the gateway middleware recorded on this request; undefined outside the gateway. */
export function pagesOf(req: object): PageKit | undefined {
  const info = (req as Record<symbol, { pages?: PageKit } | undefined>)[infoKey];
  return info?.pages;
}

/** Where `errorHandler: 'next'` keeps Express's `next` for this request. */
export const errorNextKey = Symbol('fedgate.errorNext');

/** Express's `next` of this request when errors go to the app's error handler; else undefined. */
export function errorNextOf(req: object): ((err: unknown) => void) | undefined {
  return (req as Record<symbol, ((err: unknown) => void) | undefined>)[errorNextKey];
}
