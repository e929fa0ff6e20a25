// node cp.mjs to|from NAMESPACE POD CONTAINER SRC TGT [CWD]   (KUBECONFIG from the env)
// Copies with the official JavaScript client's Cp (tar over its Exec): "to" packs the
// local directory SRC into the pod's directory TGT, "from" extracts the pod's SRC under
// the local directory TGT (SRC relative to the pod's CWD). Exits 0 once the exec's WebSocket has closed; an error Cp
// reports (the remote tar's stderr) exits 2 with it. client-node 1.4.0's cpFromPod runs
// `tar zcf` but extracts without gunzip (kubernetes-client/javascript#2663, fixed after
// 1.4.0 by #2664, which adds the gunzip): "from" adds it here the same way.
import { Cp, Exec, KubeConfig } from '@kubernetes/client-node';
import { createGunzip } from 'node:zlib';

const [way, namespace, pod, container, src, tgt, cwd] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromDefault();
const real = new Exec(kc);
let closed;
let ws_end = () => {};
const done = new Promise((resolve) => { closed = resolve; });
const watched = {
  async exec(...args) {
    if (way === 'from' && args[3].includes('zcf')) {
      const gunzip = createGunzip();
      gunzip.pipe(args[4]);
      args[4] = gunzip;
      ws_end = () => gunzip.end();
    }
    const ws = await real.exec(...args);
    ws.on('close', () => { ws_end(); closed(); });
    return ws;
  },
};
process.on('uncaughtException', (e) => { console.error(String(e)); process.exit(2); });
process.on('unhandledRejection', (e) => { console.error(String(e)); process.exit(2); });
const cp = new Cp(kc, watched);
if (way === 'to') {
  await cp.cpToPod(namespace, pod, container, src, tgt);
} else {
  await cp.cpFromPod(namespace, pod, container, src, tgt, cwd);
}
const timeout = setTimeout(() => { console.error('timed out'); process.exit(3); }, 20000);
await done;
clearTimeout(timeout);
await new Promise((r) => setTimeout(r, 100)); // let the status callback and tar finish
process.exit(0);
