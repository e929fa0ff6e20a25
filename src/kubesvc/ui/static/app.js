// The kubesvc service map: lists then watches the cluster's objects through the API (as the
// signed-in user) and reads traffic counters from /ui/metrics. Preact + htm, no build step.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const TOKEN_KEY = 'kubesvc-token';
const MESSAGE_KEY = 'kubesvc-signin-message';
const CLUSTER_DOMAIN = 'cluster.local';

// ---- authentication: a bearer token from the URL fragment (#token=...) or the form

function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname);  // keep the token out of history
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

class AuthError extends Error {}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const resp = await fetch(path, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(init.headers || {}) },
  });
  if (resp.status === 401) throw new AuthError('the token was not accepted (401)');
  return resp;
}

// ---- the object cache: list, then watch from the list's resourceVersion (relist on 410)

const changed = new Set();  // subscribers (the App), told after each batch of events
let pending = false;
function notify() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; changed.forEach((f) => f()); });
}

class Store {
  constructor(path) {
    this.path = path;
    this.items = new Map();  // "ns/name" -> object
    this.live = false;
    this.available = true;   // false when the API does not serve the resource (404)
    this.error = '';
  }

  key(o) { return `${o.metadata.namespace || ''}/${o.metadata.name}`; }

  async run() {
    for (;;) {
      try {
        const resp = await api(this.path);
        if (resp.status === 404) { this.available = false; notify(); return; }
        if (!resp.ok) throw new Error(`${this.path}: ${resp.status}`);
        const list = await resp.json();
        this.items = new Map((list.items || []).map((o) => [this.key(o), o]));
        this.error = '';
        notify();
        await this.watch(list.metadata.resourceVersion);
      } catch (e) {
        if (e instanceof AuthError) { signOut(e.message); return; }
        this.error = String(e.message || e);
      }
      this.live = false;
      notify();
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // Over a WebSocket (upstream's watch over wsstream): a browser holds only six HTTP/1.1
  // connections to a host, fewer than the watches here plus the traffic poll.
  watch(rv) {
    return new Promise((resolve) => {
      const token = sessionStorage.getItem(TOKEN_KEY) || '';
      const b64 = btoa(token).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const sep = this.path.includes('?') ? '&' : '?';
      const url = `wss://${location.host}${this.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`;
      const ws = new WebSocket(url, [`base64url.bearer.authorization.k8s.io.${b64}`, 'binary.k8s.io']);
      ws.binaryType = 'arraybuffer';
      const decoder = new TextDecoder();
      ws.onopen = () => { this.live = true; notify(); };
      ws.onmessage = (m) => {
        const ev = JSON.parse(typeof m.data === 'string' ? m.data : decoder.decode(m.data));
        if (ev.type === 'ERROR') { ws.close(); return; }  // e.g. 410 Gone: relist
        if (ev.type === 'BOOKMARK') return;
        const k = this.key(ev.object);
        if (ev.type === 'DELETED') this.items.delete(k); else this.items.set(k, ev.object);
        notify();
      };
      ws.onclose = () => resolve();
    });
  }

  list() { return [...this.items.values()]; }
}

const stores = {
  namespaces: new Store('/api/v1/namespaces'),
  services: new Store('/api/v1/services'),
  slices: new Store('/apis/discovery.k8s.io/v1/endpointslices'),
  pods: new Store('/api/v1/pods'),
  nodes: new Store('/api/v1/nodes'),
  events: new Store('/api/v1/events'),
  ingresses: new Store('/apis/networking.k8s.io/v1/ingresses'),
};

// ---- traffic: Prometheus text from /ui/metrics every second, rates from the deltas

const traffic = { byService: new Map(), byEndpoint: new Map(), dns: [], at: 0, error: '' };

function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
    let lm;
    while ((lm = re.exec(m[3] || '')) !== null) labels[lm[1]] = lm[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

async function pollTraffic() {
  for (;;) {
    try {
      const resp = await api('/ui/metrics');
      if (!resp.ok) throw new Error(`/ui/metrics: ${resp.status}`);
      const now = performance.now() / 1000;
      const prev = traffic.byService;
      const svc = new Map();
      const ep = new Map();
      const dns = [];
      for (const s of parseMetrics(await resp.text())) {
        if (s.name === 'kubesvc_proxy_connections_total' || s.name === 'kubesvc_proxy_bytes_total') {
          // service label: "ns/name[:port]/PROTO"
          const id = s.labels.service.split('/').slice(0, 2).join('/').split(':')[0];
          const t = svc.get(id) || { connections: 0, bytes: 0 };
          const e = ep.get(s.labels.endpoint) || { connections: 0, bytes: 0 };
          const field = s.name === 'kubesvc_proxy_connections_total' ? 'connections' : 'bytes';
          t[field] += s.value;
          e[field] += s.value;
          svc.set(id, t);
          ep.set(s.labels.endpoint, e);
        } else if (s.name === 'kubesvc_dns_requests_by_name_total') {
          dns.push({ name: s.labels.name, type: s.labels.type, count: s.value });
        }
      }
      const dt = now - traffic.at;
      for (const [id, t] of svc) {
        const before = prev.get(id);
        t.rate = before && traffic.at && dt > 0 ? Math.max(0, (t.connections - before.connections) / dt) : 0;
      }
      traffic.byService = svc;
      traffic.byEndpoint = ep;
      traffic.dns = dns.sort((a, b) => b.count - a.count);
      traffic.at = now;
      traffic.error = '';
    } catch (e) {
      if (e instanceof AuthError) { signOut(e.message); return; }
      traffic.error = String(e.message || e);
    }
    notify();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- derived views

function podState(pod) {
  if (pod.metadata.deletionTimestamp) return 'terminating';
  const cond = (pod.status?.conditions || []).find((c) => c.type === 'Ready');
  if (cond?.status === 'True') return 'ready';
  return pod.status?.phase === 'Running' ? 'serving' : 'notready';
}

function endpointState(e) {
  const c = e.conditions || {};
  if (c.terminating) return 'terminating';
  if (c.ready !== false) return 'ready';
  return c.serving ? 'serving' : 'notready';
}

function serviceEndpoints(svc) {
  const ns = svc.metadata.namespace;
  const out = [];
  for (const sl of stores.slices.list()) {
    if (sl.metadata.namespace !== ns) continue;
    if ((sl.metadata.labels || {})['kubernetes.io/service-name'] !== svc.metadata.name) continue;
    const port = (sl.ports || [])[0]?.port;
    for (const e of sl.endpoints || []) {
      for (const addr of e.addresses || []) {
        out.push({ addr, port, state: endpointState(e), pod: e.targetRef?.kind === 'Pod' ? e.targetRef.name : '', node: e.nodeName || '' });
      }
    }
  }
  return out;
}

function externalIPs(svc) {
  const ips = [...(svc.spec.externalIPs || [])];
  for (const i of svc.status?.loadBalancer?.ingress || []) ips.push(i.ip || i.hostname);
  return ips;
}

function ports(svc) {
  return (svc.spec.ports || []).map((p) => `${p.port}${p.nodePort ? ':' + p.nodePort : ''}/${p.protocol || 'TCP'}`).join(', ');
}

function fmtBytes(n) {
  if (!n) return '0';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function age(ts) {
  if (!ts) return '';
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 120) return `${Math.floor(s)}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

const inNs = (ns) => (o) => !ns || o.metadata.namespace === ns;

// ---- components

function Services({ ns }) {
  const rows = stores.services.list().filter(inNs(ns)).sort((a, b) => stores.services.key(a).localeCompare(stores.services.key(b)));
  return html`<section><h2>Services</h2>
    <table><thead><tr><th>Name</th><th>Namespace</th><th>Type</th><th>Cluster IP</th><th>Ports</th>
      <th>External IPs</th><th>DNS name</th><th class="num">Endpoints</th><th class="num">Connections</th>
      <th class="num">Bytes</th><th class="num">Conn/s</th></tr></thead>
    <tbody>${rows.map((svc) => {
      const { name, namespace } = svc.metadata;
      const eps = serviceEndpoints(svc);
      const t = traffic.byService.get(`${namespace}/${name}`) || { connections: 0, bytes: 0, rate: 0 };
      const dnsName = svc.spec.type === 'ExternalName' ? `${name}.${namespace}.svc.${CLUSTER_DOMAIN} → ${svc.spec.externalName}` : `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
      return html`<tr data-testid=${`svc-${namespace}-${name}`}>
        <td><b>${name}</b></td><td>${namespace}</td><td>${svc.spec.type || 'ClusterIP'}</td>
        <td>${(svc.spec.clusterIPs || [svc.spec.clusterIP]).filter(Boolean).join(', ')}</td>
        <td>${ports(svc)}</td><td>${externalIPs(svc).join(', ')}</td><td class="muted">${dnsName}</td>
        <td class="num">${eps.filter((e) => e.state === 'ready').length}/${eps.length}</td>
        <td class="num" data-testid=${`conns-${namespace}-${name}`}>${t.connections}</td>
        <td class="num">${fmtBytes(t.bytes)}</td><td class="num">${(t.rate || 0).toFixed(1)}</td></tr>`;
    })}</tbody></table></section>`;
}

function Topology({ ns }) {
  const services = stores.services.list().filter(inNs(ns)).filter((s) => s.spec.type !== 'ExternalName');
  const pods = stores.pods.list().filter(inNs(ns));
  const nodes = stores.nodes.list();
  const rowH = 34;
  const col = [20, 330, 640];
  const w = 190;
  const podY = new Map();
  pods.sort((a, b) => stores.pods.key(a).localeCompare(stores.pods.key(b))).forEach((p, i) => podY.set(stores.pods.key(p), 20 + i * rowH));
  const nodeY = new Map();
  nodes.forEach((n, i) => nodeY.set(n.metadata.name, 20 + i * rowH));
  const height = 40 + rowH * Math.max(services.length, pods.length, nodes.length, 1);
  const edges = [];
  services.forEach((svc, i) => {
    const y = 20 + i * rowH;
    for (const e of serviceEndpoints(svc)) {
      const py = podY.get(`${svc.metadata.namespace}/${e.pod}`);
      if (py === undefined) continue;
      const hot = (traffic.byEndpoint.get(`${e.addr}:${e.port}`)?.connections || 0) > 0;
      edges.push(html`<path class=${'edge' + (hot ? ' hot' : '')} d=${`M${col[0] + w},${y + 12} C${col[0] + w + 60},${y + 12} ${col[1] - 60},${py + 12} ${col[1]},${py + 12}`} />`);
    }
  });
  for (const p of pods) {
    const py = podY.get(stores.pods.key(p));
    const ny = nodeY.get(p.spec?.nodeName);
    if (ny === undefined) continue;
    edges.push(html`<path class="edge" d=${`M${col[1] + w},${py + 12} C${col[1] + w + 60},${py + 12} ${col[2] - 60},${ny + 12} ${col[2]},${ny + 12}`} />`);
  }
  const box = (cls, x, y, label, testid, title) => html`<g class=${cls} data-testid=${testid}>
    <title>${title}</title><rect x=${x} y=${y} width=${w} height="24" rx="5" />
    <text x=${x + 8} y=${y + 16}>${label.length > 27 ? label.slice(0, 26) + '…' : label}</text></g>`;
  return html`<section><h2>Topology: Service → pods → nodes</h2>
    <svg width=${col[2] + w + 20} height=${height} role="img" aria-label="service map">
      ${edges}
      ${services.map((s, i) => box('svc', col[0], 20 + i * rowH, `${s.metadata.namespace}/${s.metadata.name}`, `map-svc-${s.metadata.namespace}-${s.metadata.name}`, `Service ${s.metadata.name}`))}
      ${pods.map((p) => { const st = podState(p); return box(`pod ${st}`, col[1], podY.get(stores.pods.key(p)), `${p.metadata.name}`, `map-pod-${p.metadata.namespace}-${p.metadata.name}`, `${p.metadata.namespace}/${p.metadata.name}: ${st}, ${p.status?.podIP || 'no IP'}`); })}
      ${nodes.map((n) => box('node', col[2], nodeY.get(n.metadata.name), n.metadata.name, `map-node-${n.metadata.name}`, `Node ${n.metadata.name}`))}
    </svg>
    <p class="muted"><span class="ready">■ ready</span> <span class="serving">■ serving, not ready</span>
      <span class="notready">■ not ready</span> <span class="terminating">■ terminating</span> · blue edges carried traffic</p></section>`;
}

function Pods({ ns }) {
  const pods = stores.pods.list().filter(inNs(ns));
  return html`<section><h2>Pods</h2><table><thead><tr><th>Name</th><th>Namespace</th><th>State</th><th>IP</th><th>Node</th><th class="num">Connections</th></tr></thead>
    <tbody>${pods.map((p) => {
      const st = podState(p);
      let conns = 0;
      for (const [ep, t] of traffic.byEndpoint) if (p.status?.podIP && ep.startsWith(p.status.podIP + ':')) conns += t.connections;
      return html`<tr data-testid=${`pod-${p.metadata.namespace}-${p.metadata.name}`} data-state=${st}>
        <td>${p.metadata.name}</td><td>${p.metadata.namespace}</td><td class=${st}>${st}</td>
        <td>${p.status?.podIP || ''}</td><td>${p.spec?.nodeName || ''}</td><td class="num">${conns}</td></tr>`;
    })}</tbody></table></section>`;
}

function Nodes() {
  return html`<section><h2>Nodes</h2><table><thead><tr><th>Name</th><th>Ready</th><th>Address</th></tr></thead>
    <tbody>${stores.nodes.list().map((n) => {
      const ready = (n.status?.conditions || []).find((c) => c.type === 'Ready')?.status === 'True';
      const addr = (n.status?.addresses || []).find((a) => a.type === 'InternalIP')?.address || '';
      return html`<tr data-testid=${`node-${n.metadata.name}`}><td>${n.metadata.name}</td>
        <td class=${ready ? 'ready' : 'notready'}>${ready ? 'Ready' : 'NotReady'}${n.spec?.unschedulable ? ', cordoned' : ''}</td><td>${addr}</td></tr>`;
    })}</tbody></table></section>`;
}

function Ingresses({ ns }) {
  if (!stores.ingresses.available) return null;
  const rows = stores.ingresses.list().filter(inNs(ns));
  return html`<section><h2>Ingresses</h2>${rows.length === 0 ? html`<p class="muted">none</p>` : html`<table>
    <thead><tr><th>Name</th><th>Class</th><th>Hosts</th><th>Backends</th></tr></thead>
    <tbody>${rows.map((i) => html`<tr><td>${i.metadata.namespace}/${i.metadata.name}</td><td>${i.spec?.ingressClassName || ''}</td>
      <td>${(i.spec?.rules || []).map((r) => r.host || '*').join(', ')}</td>
      <td>${(i.spec?.rules || []).flatMap((r) => (r.http?.paths || []).map((p) => `${p.path || '/'} → ${p.backend?.service?.name}`)).join(', ')}</td></tr>`)}</tbody></table>`}</section>`;
}

function Dns() {
  return html`<section><h2>DNS queries by name</h2>${traffic.dns.length === 0 ? html`<p class="muted">none yet</p>` : html`<table>
    <thead><tr><th>Name</th><th>Type</th><th class="num">Queries</th></tr></thead>
    <tbody>${traffic.dns.slice(0, 30).map((d) => html`<tr data-testid=${`dns-${d.name}-${d.type}`}><td>${d.name}</td><td>${d.type}</td><td class="num">${d.count}</td></tr>`)}</tbody></table>`}</section>`;
}

function Events({ ns }) {
  const when = (e) => e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp || '';
  const rows = stores.events.list().filter(inNs(ns)).sort((a, b) => when(b).localeCompare(when(a))).slice(0, 25);
  return html`<section><h2>Recent events</h2>${rows.length === 0 ? html`<p class="muted">none</p>` : null}
    <ul class="events">${rows.map((e) => html`<li>
      <span class="muted">${age(when(e))}</span> <span class=${e.type === 'Warning' ? 'notready' : 'muted'}>${e.type}</span>
      <b>${e.reason}</b> ${e.involvedObject?.kind}/${e.involvedObject?.name}<br />
      <span>${e.message}</span></li>`)}</ul></section>`;
}

function App() {
  const [, setTick] = useState(0);
  const [ns, setNs] = useState('');
  useEffect(() => {
    const f = () => setTick((t) => t + 1);
    changed.add(f);
    return () => changed.delete(f);
  }, []);
  const live = Object.values(stores).every((s) => s.live || !s.available);
  const errors = Object.values(stores).map((s) => s.error).concat([traffic.error]).filter(Boolean);
  return html`<header><h1>kubesvc service map</h1>
      <label>namespace <select data-testid="ns" value=${ns} onChange=${(e) => setNs(e.target.value)}>
        <option value="">all</option>
        ${stores.namespaces.list().map((n) => html`<option value=${n.metadata.name}>${n.metadata.name}</option>`)}
      </select></label>
      <span class="spacer"></span>
      <span class=${'live' + (live ? ' on' : '')} data-testid="live">${live ? 'live' : 'connecting'}</span>
      <button onClick=${() => signOut('')}>sign out</button></header>
    ${errors.length ? html`<p class="error" style="padding:0 18px">${errors[0]}</p>` : null}
    <main><div><${Services} ns=${ns} /><${Topology} ns=${ns} /><${Pods} ns=${ns} /><${Ingresses} ns=${ns} /></div>
      <div><${Nodes} /><${Dns} /><${Events} ns=${ns} /></div></main>`;
}

function Login({ message }) {
  const submit = (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, e.target.token.value.trim());
    location.replace(location.pathname);
  };
  return html`<form class="login" onSubmit=${submit}><h2>kubesvc service map</h2>
    <p>Sign in with a bearer token: <code>kubectl create token NAME</code>, or the token in the
    kubeconfig <code>kubesvc up</code> wrote. What you see is what that token may list and watch.</p>
    ${message ? html`<p class="error">${message}</p>` : null}
    <textarea name="token" placeholder="token"></textarea><p><button type="submit">Sign in</button></p></form>`;
}

// Signing out (or a refused token) reloads the page without a token: every watch ends.
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) sessionStorage.setItem(MESSAGE_KEY, message);
  location.replace(location.pathname);
}

const root = document.getElementById('app');
root.textContent = '';  // the loading line
if (takeTokenFromFragment()) {
  render(html`<${App} />`, root);
  Object.values(stores).forEach((s) => s.run());
  pollTraffic();
} else {
  const message = sessionStorage.getItem(MESSAGE_KEY) || '';
  sessionStorage.removeItem(MESSAGE_KEY);
  render(html`<${Login} message=${message} />`, root);
}
