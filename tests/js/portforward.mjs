// node portforward.mjs SERVER NAMESPACE POD PORT PAYLOAD
// Port-forwards with the official JavaScript client (@kubernetes/client-node PortForward,
// the WebSocket channel protocol), writes PAYLOAD to the pod's port, and prints one JSON
// line {"out": ..., "err": ...} with what came back on the data and error channels.
import { KubeConfig, PortForward } from '@kubernetes/client-node';
import { PassThrough, Writable } from 'node:stream';

const [server, namespace, pod, port, payload] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server, skipTLSVerify: true }],
  users: [{ name: 'u', token: 't' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace }],
  currentContext: 'x',
});
const collect = () => {
  const chunks = [];
  const w = new Writable({ write(chunk, _enc, cb) { chunks.push(Buffer.from(chunk)); cb(); } });
  w.text = () => Buffer.concat(chunks).toString();
  return w;
};
const out = collect();
const err = collect();
const input = new PassThrough();
const ws = await new PortForward(kc).portForward(namespace, pod, [Number(port)], out, err, input);
input.write(payload);
const deadline = Date.now() + 10000;
while (out.text().length < payload.length && err.text() === '' && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
if (err.text() !== '') {
  await new Promise((r) => setTimeout(r, 200));
}
ws.close();
console.log(JSON.stringify({ out: out.text(), err: err.text() }));
process.exit(0);
