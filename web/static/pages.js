// The pages' one script (the portal's and the workstation's): what a server-rendered page cannot do by
// itself. It signs through NCALayer (or egovctl signer in its place) with
// ncalayer-js-client, computes the attachments' SHA-256 in the browser
// (Web Crypto), sends the signed request, and keeps a request's state
// current. The keys never leave the citizen's machine; the portal gets the
// signed XML only.
'use strict';

(() => {
  const body = document.body;
  const csrf = body.dataset.csrf;
  const msg = (name) => body.dataset['msg' + name.charAt(0).toUpperCase() + name.slice(1)] || name;

  // The certificate profiles the portal asks NCALayer for: a citizen's
  // signing key for a request, his authentication key for a login.
  // chain: [] lets NCALayer offer keys of a test authority too (the
  // client's basicsSignerTestAny); without it, only the NCA's production
  // keys would be offered.
  const SIGN_PERSON = { extKeyUsageOids: ['1.3.6.1.5.5.7.3.4', '1.2.398.3.3.4.1.1'], chain: [] };
  const AUTH_PERSON = { extKeyUsageOids: ['1.3.6.1.5.5.7.3.2', '1.2.398.3.3.4.1.1'], chain: [] };
  // An operator signs what he files with his key of the organisation.
  const SIGN_ORG = { extKeyUsageOids: ['1.3.6.1.5.5.7.3.4', '1.2.398.3.3.4.1.2'], chain: [] };

  // signXML signs one XML document through NCALayer and returns the signed
  // document. The client is made per signature: NCALayer may have been
  // started (or restarted) after the page was opened.
  async function signXML(xml, signer) {
    const client = new window.NCALayerClient(body.dataset.signer, false);
    try {
      await client.connect();
    } catch (err) {
      throw new Error(msg('signer'));
    }
    try {
      const signed = await client.basicsSignXML(window.NCALayerClient.basicsStorageAll, xml, {}, signer, body.dataset.lang);
      return Array.isArray(signed) ? signed[0] : signed;
    } catch (err) {
      throw new Error(err.canceledByUser ? msg('canceled') : err.message);
    } finally {
      if (client.wsConnection) client.wsConnection.close();
    }
  }

  // post sends a form or JSON to the portal with the anti-forgery token
  // and returns the parsed answer; a refusal throws with its message and
  // code, and its per-field messages when there are some.
  async function post(url, payload) {
    const init = {
      method: 'POST',
      headers: { 'X-CSRF-Token': csrf, 'X-Requested-With': 'fetch', Accept: 'application/json' },
      credentials: 'same-origin',
    };
    if (payload instanceof FormData) {
      init.body = payload;
    } else {
      init.body = JSON.stringify(payload);
      init.headers['Content-Type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      throw new Error(msg('connection'));
    }
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(answer.message || res.statusText);
      err.code = answer.code;
      err.fields = answer.fields;
      throw err;
    }
    return answer;
  }

  async function getJSON(url) {
    const res = await fetch(url, { headers: { 'X-Requested-With': 'fetch', Accept: 'application/json' }, credentials: 'same-origin' });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(answer.message || res.statusText);
      err.code = answer.code;
      throw err;
    }
    return answer;
  }

  function show(el, text, code) {
    if (!el) return;
    el.textContent = text;
    delete el.dataset.code;
    if (code) {
      const p = document.createElement('p');
      p.className = 'code';
      p.append(msg('code') + ': ');
      const c = document.createElement('code');
      c.textContent = code;
      p.append(c);
      el.append(p);
      el.dataset.code = code;
    }
    el.hidden = false;
    el.focus && el.setAttribute('tabindex', '-1');
  }

  function status(el, text) {
    if (el) el.textContent = text;
  }

  // step runs one step a button starts: the button waits meanwhile, and a
  // refusal is put in the page's alert, with its code, and focused.
  async function step(button, error, state, work) {
    error.hidden = true;
    if (button) button.disabled = true;
    try {
      await work();
    } catch (err) {
      status(state, '');
      show(error, err.message, err.code);
      error.focus();
    } finally {
      if (button) button.disabled = false;
    }
  }

  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

  // The service's form: fields to the portal, which answers the XML to
  // sign (or what is wrong, field by field); the signed XML and the files
  // then go as one multipart submission.
  const requestForm = document.getElementById('request-form');
  if (requestForm) {
    const error = document.getElementById('form-error');
    const state = document.getElementById('form-status');
    const button = document.getElementById('sign-submit');
    const clearFieldErrors = () => {
      requestForm.querySelectorAll('p.error').forEach((p) => { p.hidden = true; p.textContent = ''; });
      requestForm.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
      error.hidden = true;
    };
    requestForm.addEventListener('submit', (event) => {
      event.preventDefault();
      clearFieldErrors();
      return step(button, error, state, async () => {
        const fields = new FormData(requestForm);
        const files = [];
        status(state, msg('hashing'));
        for (const input of requestForm.querySelectorAll('input[type=file][data-kind]')) {
          fields.delete(input.name);
          const file = input.files[0];
          if (!file) continue;
          const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
          fields.set(input.name + '.name', file.name);
          fields.set(input.name + '.type', file.type);
          fields.set(input.name + '.size', String(file.size));
          fields.set(input.name + '.sha256', hex(digest));
          files.push(file);
        }
        let prepared;
        try {
          prepared = await post(requestForm.action, fields);
        } catch (err) {
          if (err.fields) {
            let first = null;
            for (const [name, text] of Object.entries(err.fields)) {
              const p = document.getElementById(name + '-error');
              const input = document.getElementById(name);
              if (p) { p.textContent = text; p.hidden = false; }
              if (input) { input.setAttribute('aria-invalid', 'true'); first = first || input; }
            }
            show(error, msg('check'));
            if (first) first.focus();
            status(state, '');
            return;
          }
          throw err;
        }
        status(state, msg('signing'));
        const signed = await signXML(prepared.document, SIGN_PERSON);
        status(state, msg('sending'));
        const submission = new FormData();
        submission.append('request', new Blob([signed], { type: 'application/xml' }), 'request.xml');
        for (const file of files) submission.append('file', file, file.name);
        const accepted = await post('/requests', submission);
        window.location.assign('/requests/' + encodeURIComponent(accepted.id));
      });
    });
  }

  // Login by signature: the portal's one-time challenge, signed with the
  // citizen's authentication key.
  const signLogin = document.getElementById('sign-login');
  if (signLogin) {
    const error = document.getElementById('sign-login-error');
    const state = document.getElementById('sign-login-status');
    signLogin.addEventListener('click', () => step(signLogin, error, state, async () => {
      const challenge = await getJSON('/login/challenge');
      status(state, msg('signing'));
      const signed = await signXML(challenge.document, AUTH_PERSON);
      const done = await post('/login/signature', { signed, next: signLogin.dataset.next || '' });
      window.location.assign(done.next);
    }));
  }

  // Registration proven by signature: the challenge is signed first, then
  // the form goes as it is.
  const registerForm = document.getElementById('register-form');
  if (registerForm) {
    const error = document.getElementById('register-error');
    const state = document.getElementById('register-status');
    const signed = document.getElementById('signedChallenge');
    registerForm.addEventListener('submit', async (event) => {
      const proof = registerForm.querySelector('input[name=proof]:checked');
      if (event.submitter && event.submitter.id === 'send-code') return;
      if (!proof || proof.value !== 'signature' || signed.value) return;
      event.preventDefault();
      await step(null, error, state, async () => {
        const challenge = await getJSON('/login/challenge');
        status(state, msg('signing'));
        // The key of the IIN being registered, where NCALayer holds several.
        const iin = registerForm.querySelector('input[name=iin]').value.trim();
        signed.value = await signXML(challenge.document, { ...AUTH_PERSON, iin });
        status(state, msg('sending'));
        registerForm.submit();
      });
    });
  }

  // The operator's draft: the request document the registers' check let
  // through, signed with his organisation key of the desk's BIN.
  const draftSign = document.getElementById('draft-sign');
  if (draftSign) {
    const error = document.getElementById('draft-error');
    const state = document.getElementById('draft-status');
    draftSign.addEventListener('click', () => step(draftSign, error, state, async () => {
      status(state, msg('signing'));
      const signed = await signXML(document.getElementById('draft-document').value, SIGN_ORG);
      status(state, msg('sending'));
      const done = await post(draftSign.dataset.action, { signed });
      window.location.assign(done.location);
    }));
  }

  // A request's (or a filing's) page: its status part is fetched again
  // until it has ended, every 2 s at first and then less often, up to a
  // minute (the poll does not keep the session alive: the server does not
  // extend it for this call); the part is replaced only when it changed,
  // so that a screen reader announces changes, not every poll.
  const live = document.getElementById('status');
  if (live && live.dataset.src) {
    const final = () => live.querySelector('[data-final="true"]') !== null;
    let wait = 2000;
    let last = live.innerHTML;
    const refresh = async () => {
      if (final()) return;
      try {
        const res = await fetch(live.dataset.src, { headers: { 'X-Requested-With': 'fetch' }, credentials: 'same-origin' });
        if (res.status === 401) {
          // The session ended: the page itself goes to the login.
          window.location.reload();
          return;
        }
        if (res.ok) {
          const html = await res.text();
          if (html !== last) {
            live.innerHTML = html;
            last = html;
          }
        }
      } catch (err) {
        // the next try says more
      }
      wait = Math.min(wait * 1.5, 60000);
      if (!final()) window.setTimeout(refresh, wait);
    };
    window.setTimeout(refresh, wait);
  }
})();
