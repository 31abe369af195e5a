// Fieldbook service worker: keeps the app shell (HTML, JS, WASM, CSS, icons) so the app opens
// with no signal. Never case data: that lives in IndexedDB, and /sync is a WebSocket.
// BUILD is stamped at build time (scripts/post-build.sh), so every release gets a new cache
// and the page can offer "update available — reload".
const BUILD = "__FIELDBOOK_BUILD__"
const CACHE = `fieldbook-shell-${BUILD}`
const NOT_SHELL = ["/sync", "/healthz", "/api/"]

self.addEventListener("install", event => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE)
      const index = await fetch("/", { cache: "no-store" })
      const html = await index.clone().text()
      const assets = [...html.matchAll(/["'](\/[^"'?#]+\.(?:js|wasm|css|png|webmanifest))["']/g)].map(m => m[1])
      await cache.addAll([...new Set([...assets, "/manifest.webmanifest", "/exit.html", "/exit.css", "/icons/icon-192.png", "/icons/icon-512.png"])])
      await cache.put("/", index)
      if (!self.registration.active) {
        await self.skipWaiting() // first install: take over at once
      } else {
        for (const c of await self.clients.matchAll()) c.postMessage("update-ready")
      }
    })(),
  )
})

self.addEventListener("message", event => {
  if (event.data === "skip-waiting") self.skipWaiting()
})

self.addEventListener("activate", event => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith("fieldbook-shell-") && key !== CACHE) await caches.delete(key)
      await self.clients.claim()
    })(),
  )
})

self.addEventListener("fetch", event => {
  const url = new URL(event.request.url)
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return
  if (NOT_SHELL.some(p => url.pathname.startsWith(p))) return
  if (event.request.mode === "navigate") {
    // Network first so an online visit sees the latest shell; the cached one when offline.
    // The neutral exit page is served as itself offline, never as the app.
    event.respondWith(
      fetch(event.request).catch(async () => {
        const cache = await caches.open(CACHE)
        return (await cache.match(url.pathname)) ?? cache.match("/")
      }),
    )
    return
  }
  event.respondWith(
    (async () => (await (await caches.open(CACHE)).match(url.pathname)) ?? fetch(event.request))(),
  )
})
