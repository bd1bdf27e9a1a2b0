// Vanilla client for DocumentService: the API key stays in this tab's sessionStorage and goes in X-Api-Key.
'use strict';
const $ = id => document.getElementById(id);
const keyInput = $('api-key');
keyInput.value = sessionStorage.getItem('apiKey') || '';
keyInput.addEventListener('change', () => sessionStorage.setItem('apiKey', keyInput.value));
let current = null;

function status(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

async function api(path, options = {}) {
  const headers = Object.assign({ 'X-Api-Key': keyInput.value }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let title = response.status + ' ' + response.statusText;
    try { const problem = await response.json(); title = problem.title + (problem.errors ? ': ' + Object.values(problem.errors).flat().join(' ') : ''); } catch { }
    throw new Error(title);
  }
  return response;
}

function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value;
  if (className) element.className = className;
  return element;
}

$('search-form').addEventListener('submit', async event => {
  event.preventDefault();
  const query = new URLSearchParams({ [$('search-kind').value]: $('search-value').value });
  try {
    const patients = await (await api('/api/patients?' + query)).json();
    const list = $('search-results');
    list.replaceChildren(...patients.map(p => {
      const item = text('li', `${p.mrn} — ${p.fullName}`);
      item.dataset.patientId = p.id;
      item.addEventListener('click', () => openPatient(p.id));
      return item;
    }));
    status(`${patients.length} patient(s) found`);
  } catch (e) { status(e.message, true); }
});

$('create-form').addEventListener('submit', async event => {
  event.preventDefault();
  const codes = $('new-codes').value.split(',').map(c => c.trim()).filter(c => c);
  const body = {
    mrn: $('new-mrn').value, fullName: $('new-name').value, dateOfBirth: $('new-dob').value || null,
    address: $('new-address').value || null, ssn: $('new-ssn').value || null, diagnosisCodes: codes,
  };
  try {
    const patient = await (await api('/api/patients', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();
    status('Patient created');
    showPatient(patient);
  } catch (e) { status(e.message, true); }
});

async function openPatient(id) {
  try { showPatient(await (await api('/api/patients/' + id)).json()); } catch (e) { status(e.message, true); }
}

function showPatient(patient) {
  current = patient;
  $('patient-section').hidden = false;
  const rows = [['MRN', patient.mrn], ['Full name', patient.fullName], ['Date of birth', patient.dateOfBirth || '—'],
    ['Address', patient.address || '—'], ['SSN', patient.ssn || '—'], ['Diagnoses', patient.diagnosisCodes.join(', ') || '—']];
  $('patient').replaceChildren(...rows.flatMap(([label, value]) =>
    [text('dt', label), text('dd', value, label === 'SSN' && !patient.ssnRevealed ? 'masked' : '')]));
  $('patient').dataset.patientId = patient.id;
  loadDocuments();
}

async function loadDocuments() {
  const documents = await (await api(`/api/patients/${current.id}/documents`)).json();
  $('documents').tBodies[0].replaceChildren(...documents.map(d => {
    const row = document.createElement('tr');
    row.dataset.documentId = d.id;
    const button = text('button', 'Download');
    button.className = 'download';
    button.addEventListener('click', () => download(d));
    const action = document.createElement('td');
    action.append(button);
    row.append(text('td', d.fileName), text('td', d.contentType), text('td', d.size.toLocaleString() + ' B'),
      text('td', new Date(d.uploadedAt).toLocaleString()), action);
    return row;
  }));
}

// XMLHttpRequest because fetch has no upload progress events; the raw file is the body, its name in X-File-Name.
$('upload-form').addEventListener('submit', event => {
  event.preventDefault();
  const file = $('upload-file').files[0];
  if (!file || !current) return;
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
    if (request.status === 201) {
      $('upload-percent').textContent = 'stored';
      status('Uploaded ' + file.name);
      await loadDocuments();
    } else {
      let title = 'upload failed: ' + request.status;
      try { title = JSON.parse(request.responseText).title; } catch { }
      status(title, true);
    }
  });
  request.addEventListener('error', () => status('upload failed: network error', true));
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
