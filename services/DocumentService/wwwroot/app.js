// Vanilla client for DocumentService: the API key stays in this tab's sessionStorage and goes in X-Api-Key.
// Every failure shows the problem-details reason (title, detail, field errors), field errors next to their field.
'use strict';
const $ = id => document.getElementById(id);
const keyInput = $('api-key');
keyInput.value = sessionStorage.getItem('apiKey') || '';
keyInput.addEventListener('change', () => sessionStorage.setItem('apiKey', keyInput.value));
let current = null;

// Sensitivity of what the page shows (the service's PII schema): 1 clear, 2 encrypted, 3 encrypted twice and masked.
const patientFields = [
  ['mrn', 'MRN', 2], ['fullName', 'Full name', 2], ['dateOfBirth', 'Date of birth', 2], ['address', 'Address', 2],
  ['ssn', 'SSN', 3], ['diagnosisCodes', 'Diagnoses', 2], ['createdAt', 'Record created', 1],
];
// What the hints add to a bare status code.
const statusHints = {
  401: 'paste a valid API key above.',
  403: 'this key\'s role may not do this.',
  503: 'a service it depends on is down; try again shortly.',
};

function status(message, isError) {
  $('status').textContent = message;
  $('status').className = isError ? 'error' : '';
}

/** The reason a failed response gives: its problem details' title, detail and field errors. */
async function problemMessage(response) {
  let problem = {};
  try { problem = JSON.parse(await response.text()); } catch { }
  return describeProblem(response.status, problem);
}

function describeProblem(statusCode, problem) {
  const parts = [problem.title || `Request failed (${statusCode})`];
  if (problem.detail) parts.push(problem.detail);
  if (problem.errors) parts.push(Object.values(problem.errors).flat().join(' '));
  if (statusHints[statusCode]) parts.push(statusHints[statusCode]);
  return { message: parts.join(' — '), errors: problem.errors || {} };
}

class ProblemError extends Error {
  constructor(problem) { super(problem.message); this.errors = problem.errors; }
}

async function api(path, options = {}) {
  const headers = Object.assign({ 'X-Api-Key': keyInput.value }, options.headers || {});
  let response;
  try {
    response = await fetch(path, Object.assign({}, options, { headers }));
  } catch {
    throw new ProblemError({ message: 'The service cannot be reached (network error).', errors: {} });
  }
  if (!response.ok) throw new ProblemError(await problemMessage(response));
  return response;
}

function element(tag, text, className) {
  const created = document.createElement(tag);
  if (text !== undefined) created.textContent = text;
  if (className) created.className = className;
  return created;
}

function tierBadge(tier) {
  const badge = element('span', undefined, `tier tier-${tier}`);
  if (tier > 1) {
    const lock = element('img', undefined, 'lock');
    lock.src = 'lock.svg';
    lock.alt = 'encrypted';
    badge.append(lock, ' ');
  }
  badge.append(`Tier ${tier}`);
  return badge;
}

function setFieldError(id, message) {
  $(id + '-error').textContent = message;
  $(id).setAttribute('aria-invalid', message ? 'true' : 'false');
}

/** Shows each field error next to its input (problem key → input id), clears the others, focuses the first bad one. */
function showFieldErrors(form, fieldIds, errors) {
  for (const [key, id] of Object.entries(fieldIds)) setFieldError(id, (errors[key] || []).join(' '));
  const first = form.querySelector('[aria-invalid=true]');
  if (first) first.focus();
}

$('search-form').addEventListener('submit', async event => {
  event.preventDefault();
  if (!$('search-value').value.trim()) {
    setFieldError('search-value', 'Enter a value to search for.');
    $('search-value').focus();
    return;
  }
  const query = new URLSearchParams({ [$('search-kind').value]: $('search-value').value });
  try {
    const patients = await (await api('/api/patients?' + query)).json();
    setFieldError('search-value', '');
    $('search-results').replaceChildren(...patients.map(p => {
      const item = document.createElement('li');
      const open = element('button', `${p.mrn} — ${p.fullName}`, 'link');
      open.type = 'button';
      open.dataset.patientId = p.id;
      open.addEventListener('click', () => openPatient(p.id));
      item.append(open);
      return item;
    }));
    status(`${patients.length} patient(s) found`);
  } catch (e) {
    setFieldError('search-value', Object.values(e.errors || {}).flat().join(' '));
    status(e.message, true);
  }
});

const createFields = { mrn: 'new-mrn', fullName: 'new-name', dateOfBirth: 'new-dob', address: 'new-address', ssn: 'new-ssn', diagnosisCodes: 'new-codes' };
$('create-form').addEventListener('submit', async event => {
  event.preventDefault();
  const required = {};
  if (!$('new-mrn').value.trim()) required.mrn = ['Required.'];
  if (!$('new-name').value.trim()) required.fullName = ['Required.'];
  showFieldErrors($('create-form'), createFields, required);
  if (Object.keys(required).length) return;
  const codes = $('new-codes').value.split(',').map(c => c.trim()).filter(c => c);
  const body = {
    mrn: $('new-mrn').value, fullName: $('new-name').value, dateOfBirth: $('new-dob').value || null,
    address: $('new-address').value || null, ssn: $('new-ssn').value || null, diagnosisCodes: codes,
  };
  try {
    const patient = await (await api('/api/patients', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();
    $('create-form').reset();
    status('Patient created');
    await showPatient(patient);
  } catch (e) {
    showFieldErrors($('create-form'), createFields, e.errors || {});
    status(e.message, true);
  }
});

async function openPatient(id) {
  try { await showPatient(await (await api('/api/patients/' + id)).json()); } catch (e) { status(e.message, true); }
}

function displayValue(key, patient) {
  const value = patient[key];
  if (key === 'diagnosisCodes') return value.join(', ') || '—';
  if (key === 'createdAt') return new Date(value).toLocaleString();
  return value || '—';
}

async function showPatient(patient) {
  current = patient;
  $('patient-section').hidden = false;
  $('patient').replaceChildren(...patientFields.map(([key, label, tier]) => {
    const row = element('div', undefined, `field-row tier-${tier}`);
    row.dataset.field = key;
    row.dataset.tier = tier;
    const term = element('dt', label + ' ');
    term.append(tierBadge(tier));
    const value = element('dd');
    const shown = element('span', displayValue(key, patient), tier === 3 && !patient.ssnRevealed ? 'value masked' : 'value');
    shown.id = key + '-value';
    value.append(shown);
    if (tier === 3 && patient.ssn) value.append(' ', revealButton(patient));
    row.append(term, value);
    return row;
  }));
  $('patient').dataset.patientId = patient.id;
  resetUpload('');
  $('patient-title').focus();
  try { await loadDocuments(); } catch (e) { status(e.message, true); }
}

function revealButton(patient) {
  const button = element('button', patient.ssnRevealed ? 'Hide' : 'Reveal…', 'reveal');
  button.type = 'button';
  button.id = 'reveal-button';
  button.setAttribute('aria-describedby', 'ssn-value');
  button.addEventListener('click', () => {
    if (patient.ssnRevealed) {
      // The masked record again, from the service: the clear value leaves the page.
      openPatient(patient.id);
      return;
    }
    $('reveal-reason').value = '';
    $('reveal-error').textContent = '';
    $('reveal-reason').setAttribute('aria-invalid', 'false');
    $('reveal-dialog').showModal();
    $('reveal-reason').focus();
  });
  return button;
}

$('reveal-cancel').addEventListener('click', () => $('reveal-dialog').close());
$('reveal-dialog').addEventListener('close', () => { if ($('reveal-button')) $('reveal-button').focus(); });
$('reveal-form').addEventListener('submit', async event => {
  event.preventDefault();
  const reason = $('reveal-reason').value.trim();
  const fail = message => {
    $('reveal-error').textContent = message;
    $('reveal-reason').setAttribute('aria-invalid', 'true');
    $('reveal-reason').focus();
  };
  if (reason.length < 10 || reason.length > 500) {
    fail('Give a reason of 10 to 500 characters; it goes to the access log.');
    return;
  }
  try {
    const revealed = await (await api(`/api/patients/${current.id}/reveal`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason }),
    })).json();
    $('reveal-dialog').close();
    status('Tier-3 fields revealed; the reason was logged');
    await showPatient(revealed);
    $('reveal-button').focus();
  } catch (e) {
    fail(e.message);
  }
});

async function loadDocuments() {
  const documents = await (await api(`/api/patients/${current.id}/documents`)).json();
  $('documents').tBodies[0].replaceChildren(...documents.map(d => {
    const row = document.createElement('tr');
    row.dataset.documentId = d.id;
    const button = element('button', 'Download', 'download');
    button.type = 'button';
    button.setAttribute('aria-label', 'Download ' + d.fileName);
    button.addEventListener('click', () => download(d));
    const action = element('td');
    action.append(button);
    row.append(element('td', d.fileName, 'tier-2'), element('td', d.contentType, 'tier-1'), element('td', d.size.toLocaleString() + ' B', 'tier-1'),
      element('td', new Date(d.uploadedAt).toLocaleString(), 'tier-1'), action);
    return row;
  }));
}

function resetUpload(label) {
  $('upload-progress').value = 0;
  $('upload-percent').textContent = label;
  $('upload-percent').className = '';
}

function uploadFailed(message) {
  resetUpload('failed');
  $('upload-percent').className = 'error';
  $('upload-button').disabled = false;
  status('Upload failed: ' + message, true);
}

// XMLHttpRequest because fetch has no upload progress events; the raw file is the body, its name in X-File-Name.
$('upload-form').addEventListener('submit', event => {
  event.preventDefault();
  const file = $('upload-file').files[0];
  if (!current) return;
  if (!file) {
    uploadFailed('choose a file first.');
    $('upload-file').focus();
    return;
  }
  resetUpload('0 %');
  $('upload-button').disabled = true;
  const request = new XMLHttpRequest();
  request.open('POST', `/api/patients/${current.id}/documents`);
  request.setRequestHeader('X-Api-Key', keyInput.value);
  request.setRequestHeader('X-File-Name', encodeURIComponent(file.name));
  request.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
  request.upload.addEventListener('progress', e => {
    if (!e.lengthComputable) return;
    const percent = Math.floor(100 * e.loaded / e.total);
    $('upload-progress').value = percent;
    $('upload-percent').textContent = percent + ' %';
  });
  request.addEventListener('load', async () => {
    if (request.status !== 201) {
      let problem = {};
      try { problem = JSON.parse(request.responseText); } catch { }
      uploadFailed(describeProblem(request.status, problem).message);
      return;
    }
    $('upload-progress').value = 100;
    $('upload-percent').textContent = 'stored';
    $('upload-button').disabled = false;
    status('Uploaded ' + file.name);
    try { await loadDocuments(); } catch (e) { status(e.message, true); }
  });
  request.addEventListener('error', () => uploadFailed('network error.'));
  request.send(file);
});

async function download(documentInfo) {
  try {
    const blob = await (await api('/api/documents/' + documentInfo.id)).blob();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = documentInfo.fileName;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    status('Downloaded ' + documentInfo.fileName);
  } catch (e) { status(e.message, true); }
}
