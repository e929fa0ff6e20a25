// node integration.mjs — the equivalent of @kubernetes/client-node's own integration tests
// (src/test/integration in its repository; the npm package ships only dist/), written
// against the client's public API: patchNamespace (a JSON patch replacing labels),
// watchPods (ADDED and DELETED through Watch), informer (ListWatch sees objects created
// after it started). Uses KUBECONFIG; prints one JSON line per test
// {"name", "ok", "error"} and exits non-zero if any failed.
import assert from 'node:assert';
import {
  CoreV1Api, KubeConfig, ListWatch, PatchStrategy, Watch, setHeaderOptions,
} from '@kubernetes/client-node';

const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);
const suffix = () => Math.random().toString(36).slice(2, 8);
const within = (promise, ms, what) => Promise.race([
  promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
]);
const deferred = () => { let resolve; const p = new Promise((r) => { resolve = r; }); p.resolve = resolve; return p; };

async function patchNamespace() {
  const name = `patch-ns-${suffix()}`;
  await core.createNamespace({ body: { metadata: { name, labels: { initialLabel: 'initialValue' } } } });
  try {
    const created = await core.readNamespace({ name });
    assert.strictEqual(created.metadata?.labels?.initialLabel, 'initialValue');
    await core.patchNamespace(
      { name, body: [{ op: 'replace', path: '/metadata/labels', value: { foo: 'bar' } }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const patched = await core.readNamespace({ name });
    assert.strictEqual(patched.metadata?.labels?.foo, 'bar');
    assert.strictEqual(patched.metadata?.labels?.initialLabel, undefined);
  } finally {
    await core.deleteNamespace({ name });
  }
}

async function watchPods() {
  const namespace = 'default';
  const run = `run-${suffix()}`;
  const added = deferred();
  const deleted = deferred();
  const name = `watch-test-pod-${suffix()}`;
  const controller = await new Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`, { labelSelector: `watch-test=${run}` },
    (phase, obj) => {
      if (obj.metadata?.name !== name) return;
      if (phase === 'ADDED') added.resolve();
      if (phase === 'DELETED') deleted.resolve();
    },
    () => {},
  );
  try {
    await core.createNamespacedPod({ namespace, body: {
      metadata: { name, labels: { 'watch-test': run } },
      spec: { containers: [{ name: 'test', image: 'busybox', command: ['sleep', '3600'] }],
              restartPolicy: 'Never' },
    } });
    await within(added, 15000, 'ADDED event');
    await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
    await within(deleted, 15000, 'DELETED event');
  } finally {
    controller.abort();
  }
}

async function informer() {
  const namespace = 'default';
  const labelSelector = `informer-test=run-${suffix()}`;
  const [key, value] = labelSelector.split('=');
  const names = [`cm1-${suffix()}`, `cm2-${suffix()}`];
  const seen = Object.fromEntries(names.map((n) => [n, deferred()]));
  const lw = new ListWatch(`/api/v1/namespaces/${namespace}/configmaps`, new Watch(kc),
    () => core.listNamespacedConfigMap({ namespace, labelSelector }), false, labelSelector);
  lw.on('add', (obj) => seen[obj.metadata?.name]?.resolve());
  await lw.start();
  try {
    for (const name of names) {
      await core.createNamespacedConfigMap({ namespace, body: {
        metadata: { name, labels: { [key]: value } }, data: { key: name } } });
      await within(seen[name], 15000, `add event for ${name}`);
    }
    assert.deepStrictEqual(lw.list(namespace).map((o) => o.metadata?.name).sort(), [...names].sort());
  } finally {
    await lw.stop();
    for (const name of names) await core.deleteNamespacedConfigMap({ name, namespace }).catch(() => {});
  }
}

let failed = 0;
for (const test of [patchNamespace, watchPods, informer]) {
  try {
    await test();
    console.log(JSON.stringify({ name: test.name, ok: true }));
  } catch (err) {
    failed += 1;
    console.log(JSON.stringify({ name: test.name, ok: false, error: String(err?.stack || err) }));
  }
}
process.exit(failed ? 1 : 0);
