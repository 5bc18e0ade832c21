// The admin page: users (add, disable/enable, roles), signing keys (rotate, rotate now) and
// clients (add; a confidential client's secret is shown once). Everything goes through the
// Bearer JSON API under /admin/api, which checks the admin role itself: hiding the sections
// from a non-admin here is for the person's sake, not the defence.

import * as session from './session.js';
import {
  el,
  say,
  describeError,
  timeNode,
  confirmingButton,
  busy,
  splitList,
  allPages,
} from './common.js';

const denied = document.getElementById('admin-denied');
const sections = document.getElementById('admin-sections');
const errorBox = document.getElementById('admin-error');
const statusBox = document.getElementById('admin-status');

const usersBody = document.querySelector('#users-table tbody');
const addUserForm = document.getElementById('add-user-form');
const newUsername = document.getElementById('new-username');
const newPassword = document.getElementById('new-password');
const newRoles = document.getElementById('new-roles');

const keysBody = document.querySelector('#keys-table tbody');
const rotateButton = document.getElementById('rotate');
const rotateNowButton = document.getElementById('rotate-now');

const clientsBody = document.querySelector('#clients-table tbody');
const addClientForm = document.getElementById('add-client-form');
const newClientName = document.getElementById('new-client-name');
const newClientScopes = document.getElementById('new-client-scopes');
const newClientConfidential = document.getElementById('new-client-confidential');
const secretBox = document.getElementById('new-client-box');
const secretId = document.getElementById('new-client-id');
const secretText = document.getElementById('new-client-secret');
const copySecret = document.getElementById('copy-secret');
const dismissSecret = document.getElementById('dismiss-secret');

let me = null;

function showDenied() {
  sections.hidden = true;
  denied.hidden = false;
}

/** Reports an action's outcome: one message at a time, the other region emptied. */
function done(message) {
  say(errorBox, '');
  say(statusBox, message);
}

function failed(error) {
  if (error?.status === 403 && error.code === 'insufficient_scope') {
    showDenied();
    return;
  }
  say(statusBox, '');
  say(errorBox, describeError(error));
}

function emptyRow(colspan, text) {
  return el('tr', {}, el('td', { class: 'empty', colspan }, text));
}

// ---------- users ----------

async function loadUsers() {
  try {
    const { items: users } = await allPages(session.api, '/admin/api/users', 'users');
    usersBody.replaceChildren(
      ...(users.length ? users.map(userRow) : [emptyRow(5, 'No users yet.')]),
    );
  } catch (error) {
    usersBody.replaceChildren(emptyRow(5, 'The users could not be loaded.'));
    failed(error);
  }
}

function userRow(user) {
  const roles = Array.isArray(user.roles) ? user.roles : [];
  const rolesCell = el(
    'td',
    { class: 'roles', 'data-label': 'Roles' },
    roles.length ? roles.join(', ') : el('span', { class: 'muted' }, 'none'),
  );

  const toggle = el(
    'button',
    {
      class: `toggle-disabled small ${user.disabled ? 'secondary' : 'danger'}`,
      type: 'button',
      'aria-describedby': `user-${user.id}`,
    },
    user.disabled ? 'Enable' : 'Disable',
  );
  const setDisabled = (disabled) =>
    busy(toggle, async () => {
      try {
        await session.api(`/admin/api/users/${encodeURIComponent(user.id)}`, {
          method: 'PATCH',
          body: { disabled },
        });
        done(
          disabled
            ? `Disabled ${user.username}; their sessions are signed out.`
            : `Enabled ${user.username}.`,
        );
      } catch (error) {
        failed(error);
      }
      await loadUsers();
    });
  if (user.disabled) toggle.addEventListener('click', () => setDisabled(false));
  else confirmingButton(toggle, () => setDisabled(true));

  const edit = el(
    'button',
    { class: 'edit-roles secondary small', type: 'button', 'aria-describedby': `user-${user.id}` },
    'Edit roles',
  );
  edit.addEventListener('click', () => editRoles(user, rolesCell, edit));

  return el(
    'tr',
    { dataset: { username: user.username, userId: user.id } },
    el(
      'td',
      { 'data-label': 'Username' },
      el(
        'div',
        {},
        el('span', { id: `user-${user.id}` }, user.username),
        user.id === me ? [' ', el('span', { class: 'badge' }, 'you')] : null,
        user.has_password ? null : el('span', { class: 'sub' }, 'no password (outside provider)'),
      ),
    ),
    rolesCell,
    el(
      'td',
      { class: 'state', 'data-label': 'State' },
      el('span', { class: user.disabled ? 'badge bad' : 'badge good' }, user.disabled ? 'disabled' : 'active'),
    ),
    el('td', { 'data-label': 'Created' }, timeNode(user.created_at)),
    el('td', { class: 'actions-cell', 'data-label': 'Actions' }, el('div', { class: 'actions' }, toggle, edit)),
  );
}

/** Replaces the roles cell by a small form: the roles, comma-separated; Escape cancels. */
function editRoles(user, cell, editButton) {
  const shown = [...cell.childNodes];
  const inputId = `roles-input-${user.id}`;
  const input = el('input', {
    id: inputId,
    class: 'roles-input',
    type: 'text',
    autocomplete: 'off',
    autocapitalize: 'none',
    spellcheck: 'false',
    value: (user.roles ?? []).join(', '),
  });
  const save = el('button', { class: 'save-roles small', type: 'submit' }, 'Save');
  const cancel = el('button', { class: 'secondary small', type: 'button' }, 'Cancel');
  const form = el(
    'form',
    { class: 'inline-form' },
    el(
      'div',
      { class: 'field' },
      el('label', { for: inputId, class: 'visually-hidden' }, `Roles of ${user.username}, comma-separated`),
      input,
    ),
    save,
    cancel,
  );
  const close = () => {
    cell.replaceChildren(...shown);
    editButton.disabled = false;
    editButton.focus();
  };
  cancel.addEventListener('click', close);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, async () => {
      try {
        await session.api(`/admin/api/users/${encodeURIComponent(user.id)}`, {
          method: 'PATCH',
          body: { roles: splitList(input.value) },
        });
        done(`Saved the roles of ${user.username}.`);
        await loadUsers();
      } catch (error) {
        failed(error);
        input.focus();
      }
    });
  });
  editButton.disabled = true;
  cell.replaceChildren(form);
  input.focus();
  input.select();
}

async function addUser(event) {
  event.preventDefault();
  const button = addUserForm.querySelector('button[type=submit]');
  await busy(button, async () => {
    const username = newUsername.value.trim();
    try {
      await session.api('/admin/api/users', {
        method: 'POST',
        body: { username, password: newPassword.value, roles: splitList(newRoles.value) },
      });
      done(`Added user ${username}.`);
      addUserForm.reset();
      await loadUsers();
    } catch (error) {
      failed(error);
    }
  });
}

// ---------- keys ----------

function activeKid(keys) {
  return keys.find((k) => k.state === 'active')?.kid ?? null;
}

let lastKeys = [];

async function loadKeys() {
  try {
    const { keys } = await session.api('/admin/api/keys');
    renderKeys(keys);
  } catch (error) {
    keysBody.replaceChildren(emptyRow(6, 'The keys could not be loaded.'));
    failed(error);
  }
}

function renderKeys(keys) {
  lastKeys = Array.isArray(keys) ? keys : [];
  keysBody.replaceChildren(
    ...(lastKeys.length ? lastKeys.map(keyRow) : [emptyRow(6, 'No keys.')]),
  );
}

function keyRow(key) {
  const tone = { active: 'badge good', next: 'badge', retired: 'badge muted' }[key.state] ?? 'badge';
  return el(
    'tr',
    { dataset: { kid: key.kid }, class: key.state === 'active' ? 'current' : undefined },
    el('td', { class: 'mono', 'data-label': 'Key id' }, key.kid),
    el('td', { 'data-label': 'Algorithm' }, key.alg),
    el('td', { class: 'state', 'data-label': 'State' }, el('span', { class: tone }, key.state)),
    el('td', { 'data-label': 'Created' }, timeNode(key.created_at)),
    el('td', { 'data-label': 'Activated' }, timeNode(key.activated_at, { empty: 'not yet' })),
    el('td', { 'data-label': 'Retired' }, timeNode(key.retired_at, { empty: '—' })),
  );
}

async function rotate(now, button) {
  await busy(button, async () => {
    const before = activeKid(lastKeys);
    try {
      const { keys } = await session.api('/admin/api/keys/rotate', { method: 'POST', body: { now } });
      renderKeys(keys);
      const after = activeKid(keys);
      if (after && after !== before) {
        done(`Key ${after} signs now.`);
      } else if (keys.some((k) => k.state === 'next')) {
        done('A next key is published. Rotate again once verifiers have fetched it to make it sign.');
      } else {
        done('The keys are unchanged.');
      }
    } catch (error) {
      failed(error);
    }
  });
}

// ---------- clients ----------

async function loadClients() {
  try {
    const { items: clients } = await allPages(session.api, '/admin/api/clients', 'clients');
    clientsBody.replaceChildren(
      ...(clients.length ? clients.map(clientRow) : [emptyRow(5, 'No clients yet.')]),
    );
  } catch (error) {
    clientsBody.replaceChildren(emptyRow(5, 'The clients could not be loaded.'));
    failed(error);
  }
}

function clientRow(client) {
  const scopes = Array.isArray(client.scopes) ? client.scopes : [];
  return el(
    'tr',
    { dataset: { clientId: client.client_id } },
    el('td', { class: 'mono', 'data-label': 'Client id' }, client.client_id),
    el('td', { 'data-label': 'Name' }, client.name),
    el(
      'td',
      { class: 'scopes', 'data-label': 'Scopes' },
      scopes.length ? scopes.join(' ') : el('span', { class: 'muted' }, 'none'),
    ),
    el('td', { 'data-label': 'Type' }, client.confidential ? 'confidential' : 'public'),
    el('td', { 'data-label': 'Created' }, timeNode(client.created_at)),
  );
}

async function addClient(event) {
  event.preventDefault();
  const button = addClientForm.querySelector('button[type=submit]');
  await busy(button, async () => {
    const name = newClientName.value.trim();
    try {
      const client = await session.api('/admin/api/clients', {
        method: 'POST',
        body: {
          name,
          scopes: splitList(newClientScopes.value),
          confidential: newClientConfidential.checked,
        },
      });
      addClientForm.reset();
      if (client.client_secret) {
        secretId.textContent = client.client_id;
        secretText.textContent = client.client_secret;
        secretBox.hidden = false;
        done(`Added client ${name} (${client.client_id}). Copy its secret now: it is shown only once.`);
        copySecret.focus();
      } else {
        hideSecret();
        done(`Added public client ${name} (${client.client_id}).`);
      }
      await loadClients();
    } catch (error) {
      failed(error);
    }
  });
}

function hideSecret() {
  secretBox.hidden = true;
  secretText.textContent = '';
  secretId.textContent = '';
}

async function copy() {
  try {
    await navigator.clipboard.writeText(secretText.textContent);
    done('The secret is copied to the clipboard.');
  } catch {
    const range = document.createRange();
    range.selectNodeContents(secretText);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done('The secret is selected: copy it with the keyboard (Ctrl+C or ⌘C).');
  }
}

// ---------- start ----------

async function main() {
  try {
    await session.start({ required: true });
  } catch (error) {
    say(errorBox, `${describeError(error)} Reload the page to try again.`);
    return;
  }
  const claims = session.claims();
  me = claims?.sub ?? null;
  const roles = Array.isArray(claims?.roles) ? claims.roles : [];
  if (!roles.includes('admin')) {
    showDenied();
    return;
  }
  sections.hidden = false;
  addUserForm.addEventListener('submit', addUser);
  addClientForm.addEventListener('submit', addClient);
  rotateButton.addEventListener('click', () => rotate(false, rotateButton));
  confirmingButton(rotateNowButton, () => rotate(true, rotateNowButton));
  copySecret.addEventListener('click', copy);
  dismissSecret.addEventListener('click', hideSecret);
  await Promise.all([loadUsers(), loadKeys(), loadClients()]);
}

main();
