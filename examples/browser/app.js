// The example page: pick files → encrypted upload with progress → list → download and decrypt in the page.
import { EncryptionClient, KeyBrokerMasterKey } from '/oss-cse.js';

const $ = (id) => document.getElementById(id);
const status = (text) => {
  $('status').textContent = text;
};

// Your server hands out STS credentials here (AssumeRole); the demo returns the emulator's key pair.
const config = await (await fetch('/config')).json();
const oss = new OSS({
  endpoint: config.endpoint,
  bucket: config.bucket,
  region: 'oss-cn-hangzhou',
  accessKeyId: config.accessKeyId,
  accessKeySecret: config.accessKeySecret,
  ...(config.stsToken ? { stsToken: config.stsToken } : {}),
  sldEnable: true,
  secure: false,
});
// The master key stays on the server: the page asks the broker for wrapped keys and to open envelopes.
const client = new EncryptionClient(oss, { masterKey: new KeyBrokerMasterKey({ url: '/broker' }) });

async function refresh() {
  const listing = await oss.list({ 'max-keys': 100 });
  const rows = (listing.objects ?? []).map((o) => {
    const tr = document.createElement('tr');
    for (const text of [o.name, String(o.size)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement('td');
    const button = document.createElement('button');
    button.textContent = 'download';
    button.dataset.name = o.name;
    button.addEventListener('click', () => void download(o.name));
    td.append(button);
    tr.append(td);
    return tr;
  });
  $('objects').replaceChildren(...rows);
}

async function download(name) {
  try {
    const { content, envelope } = await client.get(name);
    $('preview').textContent = new TextDecoder().decode(content.subarray(0, 4096));
    status(`decrypted ${name}: ${content.length} bytes (${envelope?.wrapAlgorithm ?? 'not encrypted'})`);
  } catch (e) {
    status(`download failed [${e.code ?? e.name}]: ${e.message}`);
  }
}

$('upload').addEventListener('click', async () => {
  const files = [...$('files').files];
  try {
    for (const file of files) {
      status(`encrypting and uploading ${file.name}…`);
      await client.multipartUpload(file.name, file, {
        partSize: 1024 * 1024,
        checkpoint: true,
        progress: (fraction) => {
          $('progress').value = fraction;
        },
      });
    }
    status(`uploaded ${files.map((f) => f.name).join(', ')}`);
    await refresh();
  } catch (e) {
    status(`upload failed [${e.code ?? e.name}]: ${e.message}`);
  }
});

await refresh();
window.demoReady = true;
