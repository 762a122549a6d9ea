// Dredd hooks for the three services' published Swagger documents: they only
// seed data and add credentials. Each transaction is sent as the document
// describes it; a hook at most points it at a row it seeded (the document's
// example ids are placeholders, and one transaction must not delete what a
// later one reads), or makes an id unique where the same example is
// recorded twice.
//
// Environment: SECKILL_PRODUCT_URL, SECKILL_ACTIVITY_URL, SECKILL_ORDER_URL;
// SECKILL_ADMIN_TOKEN and SECKILL_SERVICE_TOKEN, the stack's ADMIN_TOKEN and
// SERVICE_TOKEN, each sent as a bearer token where the README's table of
// callers says that caller may go. Buyers' routes are sent without one (the
// stack runs in open buyer mode), or with SECKILL_BUYER_TOKEN when set.
const hooks = require('hooks');
const crypto = require('crypto');

const urls = {
  product: process.env.SECKILL_PRODUCT_URL,
  activity: process.env.SECKILL_ACTIVITY_URL,
  order: process.env.SECKILL_ORDER_URL,
};
const tokens = {
  admin: process.env.SECKILL_ADMIN_TOKEN || '',
  service: process.env.SECKILL_SERVICE_TOKEN || '',
  buyer: process.env.SECKILL_BUYER_TOKEN || '',
};

// callerOf names who may send method on the document's path.
function callerOf(method, path) {
  if (path.startsWith('/products/{id}/reservations')) return 'service';
  if (path === '/activities/settlements') return 'service';
  if (method === 'POST' && (path === '/orders' || path === '/orders/batch')) return 'service';
  if (method === 'POST' && path === '/activities/{id}/seckill') return 'buyer';
  if (path === '/orders/{id}/pay' || path === '/orders/{id}/cancel') return 'buyer';
  return 'admin';
}
const seeded = {};

async function call(service, method, path, body, caller) {
  const headers = { 'Content-Type': 'application/json' };
  const token = tokens[caller || 'admin'];
  if (token) headers.Authorization = 'Bearer ' + token;
  const resp = await fetch(urls[service] + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  if (resp.status >= 300) {
    throw new Error(`seed ${method} ${path}: ${resp.status} ${text}`);
  }
  return JSON.parse(text).data;
}

const unique = (prefix) => `${prefix} ${crypto.randomUUID().slice(0, 8)}`;
const later = (days) => new Date(Date.now() + days * 86400000).toISOString().replace(/\.\d+Z$/, 'Z');

async function seed(service) {
  const product = (inventory) =>
    call('product', 'POST', '/products', { name: unique('dredd'), price: 9.99, inventory });
  if (service === 'product') {
    seeded.item = await product(100);     // read, updated, reserved for activity 7
    seeded.doomed = await product(1);     // deleted
    seeded.fresh = await product(100);    // reserved for the first time
  } else if (service === 'activity') {
    seeded.product = await product(1000);
    const activity = (start) => call('activity', 'POST', '/activities', {
      name: unique('dredd sale'), product_id: seeded.product.id, stock: 10,
      start_time: start, end_time: later(365),
    });
    seeded.running = await activity(later(-1)); // bought from, read, counted
    seeded.upcoming = await activity(later(30)); // edited before it starts
    seeded.doomed = await activity(later(30));   // deleted
  } else if (service === 'order') {
    const order = () => call('order', 'POST', '/orders', {
      id: crypto.randomUUID(), user_id: 1 + crypto.randomInt(1e9), activity_id: 1, product_id: 1, quantity: 1, price: 9.99,
    }, 'service');
    seeded.order = await order();  // read and paid
    seeded.doomed = await order(); // cancelled
  }
}

const serviceOf = (t) => {
  for (const [name, url] of Object.entries(urls)) {
    if (url && url.endsWith(':' + t.port)) return name;
  }
  return '';
};

hooks.beforeAll((transactions, done) => {
  const service = transactions.length ? serviceOf(transactions[0]) : '';
  seed(service).then(() => done(), (err) => { hooks.log(String(err)); done(err); });
});

// setPath replaces the path parameters of t by the seeded ids.
function setPath(t, path) {
  t.fullPath = path;
  t.request.uri = path;
}

function setBody(t, change) {
  const body = JSON.parse(t.request.body);
  change(body);
  t.request.body = JSON.stringify(body);
}

hooks.beforeEach((t, done) => {
  const caller = callerOf(t.request.method, t.origin.resourceName);
  if (tokens[caller]) t.request.headers.Authorization = 'Bearer ' + tokens[caller];
  const op = `${t.request.method} ${t.origin.resourceName} ${t.expected.statusCode}`;
  const s = seeded;
  const seeding = [];
  switch (op) {
    // product service
    case 'GET /products/{id} 200':
    case 'PUT /products/{id} 200':
      setPath(t, `/products/${s.item.id}`); break;
    case 'DELETE /products/{id} 200':
      setPath(t, `/products/${s.doomed.id}`); break;
    case 'POST /products 201':
      setBody(t, (b) => { b.name = unique(b.name); }); break;
    case 'POST /products/{id}/reservations 200':
      // "already reserved": the same reservation, made before.
      setPath(t, `/products/${s.item.id}/reservations`);
      seeding.push(call('product', 'POST', `/products/${s.item.id}/reservations`, JSON.parse(t.request.body), 'service'));
      break;
    case 'POST /products/{id}/reservations 201':
      setPath(t, `/products/${s.fresh.id}/reservations`); break;
    case 'PUT /products/{id}/reservations/{activity_id}/settlement 200':
      // The reservation the 201 transaction made (activity 7, 10 units).
      setPath(t, t.request.uri.replace(/^\/products\/\d+/, `/products/${s.fresh.id}`)); break;
    case 'DELETE /products/{id}/reservations/{activity_id} 200':
      setPath(t, t.request.uri.replace(/^\/products\/\d+/, `/products/${s.item.id}`)); break;
    // activity service
    case 'POST /activities 201':
      setBody(t, (b) => { b.product_id = s.product.id; }); break;
    case 'GET /activities/{id} 200':
    case 'GET /activities/{id}/stats 200':
      setPath(t, `/activities/${s.running.id}${op.includes('stats') ? '/stats' : ''}`); break;
    case 'PUT /activities/{id} 200':
      setPath(t, `/activities/${s.upcoming.id}`);
      setBody(t, (b) => { if (b.product_id !== undefined) b.product_id = s.product.id; }); break;
    case 'DELETE /activities/{id} 200':
      setPath(t, `/activities/${s.doomed.id}`); break;
    case 'POST /activities/{id}/seckill 200':
      setPath(t, `/activities/${s.running.id}/seckill`); break;
    case 'GET /activities/{id}/seckill/{user_id} 200':
      setPath(t, t.request.uri.replace(/^\/activities\/\d+/, `/activities/${s.running.id}`)); break;
    // order service
    case 'POST /orders 200':
      // "already recorded": the same order, recorded before (with its own
      // id and user, which no sale of the activity service's run has).
      setBody(t, (b) => { b.id = crypto.randomUUID(); b.user_id = 1 + crypto.randomInt(1e9); });
      seeding.push(call('order', 'POST', '/orders', JSON.parse(t.request.body), 'service'));
      break;
    case 'POST /orders 201':
      setBody(t, (b) => { b.id = crypto.randomUUID(); b.user_id = 1 + crypto.randomInt(1e9); }); break;
    case 'GET /orders/{id} 200':
      setPath(t, `/orders/${s.order.id}`); break;
    case 'POST /orders/{id}/pay 200':
      setPath(t, `/orders/${s.order.id}/pay`);
      setBody(t, (b) => { b.user_id = s.order.user_id; }); break;
    case 'POST /orders/{id}/cancel 200':
      setPath(t, `/orders/${s.doomed.id}/cancel`);
      setBody(t, (b) => { b.user_id = s.doomed.user_id; }); break;
  }
  Promise.all(seeding).then(() => done(), (err) => { hooks.log(String(err)); done(err); });
});
