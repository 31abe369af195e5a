//! Device encryption costs, measured in headless Chromium with `performance.now()`:
//! Argon2id unlock for several parameter sets, sealing with RustCrypto (in WASM) against
//! WebCrypto, and the per-save overhead of sealing in `apply`. Prints Markdown tables.
//!
//! Run by scripts/bench-device.sh only (needs the `bench` feature); asserts nothing about time.
#![cfg(target_arch = "wasm32")]

use fieldbook_browser_store::crypto::{self, DataKey, KdfParams, Keyring};
use fieldbook_browser_store::{IdbStore, Locked, Store};
use fieldbook_sync::automerge::{transaction::Transactable, ObjType, ReadDoc, ROOT};
use fieldbook_sync::{AllowAll, Engine, EngineConfig, PeerId, Role, StorageId, StorageOp};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

/// Nearest-rank percentile of `samples` (ms).
fn pct(samples: &[f64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The WASM instance's linear memory, MiB: it only grows (never returned to the browser), so
/// it shows the most any step so far has needed.
fn wasm_memory_mib() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buffer: js_sys::ArrayBuffer = memory.buffer().unchecked_into();
    buffer.byte_length() as f64 / (1024.0 * 1024.0)
}

fn row(cells: &[String]) {
    console_log!("| {} |", cells.join(" | "));
}

fn ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.1}")
    }
}

#[wasm_bindgen_test]
async fn a_argon2id_unlock() {
    const RUNS: usize = 9;
    console_log!("\n### Argon2id unlock (Keyring::unlock: derive + open the wrapped key), {RUNS} runs each\n");
    row(&[
        "m (KiB)",
        "t",
        "p",
        "p50 ms",
        "p95 ms",
        "max ms",
        "WASM memory after (MiB)",
    ]
    .map(String::from));
    row(&["---"; 7].map(String::from));
    let sets = [
        (19456, 2),
        (32768, 3),
        (65536, 2),
        (65536, 3),
        (65536, 4),
        (65536, 6),
        (131072, 2),
        (131072, 3),
        (262144, 1),
        (262144, 2),
    ];
    for (m_kib, t) in sets {
        let params = KdfParams { m_kib, t, p: 1 };
        let (ring, _) = Keyring::create("bench-passcode", params, &mut rand::rng()).unwrap();
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            let start = now();
            let key = ring.unlock("bench-passcode").unwrap();
            samples.push(now() - start);
            drop(key);
        }
        row(&[
            m_kib.to_string(),
            t.to_string(),
            "1".into(),
            ms(pct(&samples, 50.0)),
            ms(pct(&samples, 95.0)),
            ms(pct(&samples, 100.0)),
            format!("{:.0}", wasm_memory_mib()),
        ]);
    }
    let KdfParams { m_kib, t, p } = KdfParams::DEVICE;
    console_log!("\nKdfParams::DEVICE = m={m_kib} t={t} p={p}\n");
}

#[wasm_bindgen_test]
async fn b_unlock_the_store() {
    const RUNS: usize = 7;
    let name = format!("fieldbook-bench-{}", StorageId::random());
    Locked::open(&name)
        .await
        .unwrap()
        .create("bench-passcode", &[9; 32])
        .await
        .unwrap()
        .close();
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let start = now();
        let store = Locked::open(&name)
            .await
            .unwrap()
            .unlock("bench-passcode")
            .await
            .unwrap();
        samples.push(now() - start);
        store.close();
    }
    let KdfParams { m_kib, t, p } = KdfParams::DEVICE;
    console_log!(
        "\n### Store unlock with KdfParams::DEVICE (Locked::open + unlock), {RUNS} runs\n"
    );
    row(&["m (KiB)", "t", "p", "p50 ms", "p95 ms"].map(String::from));
    row(&["---"; 5].map(String::from));
    row(&[
        m_kib.to_string(),
        t.to_string(),
        p.to_string(),
        ms(pct(&samples, 50.0)),
        ms(pct(&samples, 95.0)),
    ]);
    Locked::open(&name).await.unwrap().delete().await.unwrap();
}

async fn webcrypto_key(raw: &[u8; 32]) -> web_sys::CryptoKey {
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let algorithm = js_sys::Object::new();
    js_sys::Reflect::set(&algorithm, &"name".into(), &"AES-GCM".into()).unwrap();
    let usages = js_sys::Array::of1(&JsValue::from_str("encrypt"));
    let promise = subtle
        .import_key_with_object(
            "raw",
            &js_sys::Uint8Array::from(&raw[..]),
            &algorithm,
            false,
            &usages,
        )
        .unwrap();
    JsFuture::from(promise).await.unwrap().unchecked_into()
}

#[wasm_bindgen_test]
async fn c_seal_rustcrypto_vs_webcrypto() {
    let raw = [0x11u8; 32];
    let key = DataKey::from_bytes(raw);
    let web_key = webcrypto_key(&raw).await;
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let aad = crypto::record_aad("chunks", "2NEpo7TZRRrLZSi2U/incremental/0123abcd");
    console_log!("\n### Sealing one value (AES-256-GCM), ms\n");
    row(&[
        "size",
        "runs",
        "RustCrypto p50",
        "RustCrypto p95",
        "WebCrypto p50",
        "WebCrypto p95",
    ]
    .map(String::from));
    row(&["---"; 6].map(String::from));
    for (label, size, runs) in [
        ("200 B", 200usize, 200usize),
        ("4 KiB", 4096, 200),
        ("256 KiB", 256 * 1024, 50),
    ] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let mut rust = Vec::new();
        let mut web = Vec::new();
        let mut rng = rand::rng();
        for _ in 0..runs {
            let start = now();
            let sealed = crypto::seal(&key, &aad, &data, &mut rng);
            rust.push(now() - start);
            assert_eq!(sealed.len(), size + crypto::SEAL_OVERHEAD);

            let start = now();
            let mut iv = [0u8; 12];
            rand::RngCore::fill_bytes(&mut rng, &mut iv);
            let params = web_sys::AesGcmParams::new_with_u8_slice("AES-GCM", &mut iv);
            params.set_additional_data_u8_array(&js_sys::Uint8Array::from(&aad[..]));
            let promise = subtle
                .encrypt_with_object_and_u8_array(&params, &web_key, &data)
                .unwrap();
            let out = JsFuture::from(promise).await.unwrap();
            web.push(now() - start);
            assert_eq!(
                out.unchecked_into::<js_sys::ArrayBuffer>().byte_length() as usize,
                size + 16
            );
        }
        row(&[
            label.into(),
            runs.to_string(),
            ms(pct(&rust, 50.0)),
            ms(pct(&rust, 95.0)),
            ms(pct(&web, 50.0)),
            ms(pct(&web, 95.0)),
        ]);
    }
}

fn engine() -> Engine {
    Engine::new(
        EngineConfig::new(
            Role::Client,
            PeerId::random("bench"),
            Some(StorageId::random()),
        ),
        AllowAll,
    )
}

#[wasm_bindgen_test]
async fn d_apply_sealed_vs_unsealed() {
    const SAVES: usize = 200;
    let sealed = Locked::open(&format!("fieldbook-bench-{}", StorageId::random()))
        .await
        .unwrap()
        .create("bench-passcode", &[9; 32])
        .await
        .unwrap();
    let plain = Locked::open(&format!("fieldbook-bench-{}", StorageId::random()))
        .await
        .unwrap()
        .create("bench-passcode", &[9; 32])
        .await
        .unwrap();
    let mut e = engine();
    let (doc, out) = e
        .create(
            |tx| {
                tx.put(ROOT, "name", "Bench Child")?;
                tx.put_object(ROOT, "notes", ObjType::Text)?;
                Ok(())
            },
            0,
        )
        .unwrap();
    sealed.apply(out.storage.clone()).await.unwrap();
    plain.apply_unsealed(out.storage).await.unwrap();

    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut sizes = Vec::new();
    for i in 0..SAVES {
        let out = e
            .change(
                doc,
                |tx| {
                    let notes = tx.get(ROOT, "notes")?.unwrap().1;
                    let n = tx.length(&notes);
                    tx.splice_text(&notes, n, 0, "k")?;
                    Ok(())
                },
                0,
            )
            .unwrap();
        let ops: Vec<StorageOp> = out.storage;
        if let [StorageOp::PutChunk { data, .. }] = ops.as_slice() {
            sizes.push(data.len());
        }
        // Alternate which store goes first, so neither is favoured by what ran before.
        let order: [&IdbStore; 2] = if i % 2 == 0 {
            [&sealed, &plain]
        } else {
            [&plain, &sealed]
        };
        for store in order {
            let ops = ops.clone();
            let start = now();
            if std::ptr::eq(store, &sealed) {
                store.apply(ops).await.unwrap();
                with.push(now() - start);
            } else {
                store.apply_unsealed(ops).await.unwrap();
                without.push(now() - start);
            }
        }
    }
    sizes.sort();
    console_log!(
        "\n### One keystroke saved (`apply`, one transaction, awaited until committed), {SAVES} saves, chunk p50 {} B\n",
        sizes[sizes.len() / 2]
    );
    row(&["store", "p50 ms", "p95 ms"].map(String::from));
    row(&["---"; 3].map(String::from));
    row(&["sealed".into(), ms(pct(&with, 50.0)), ms(pct(&with, 95.0))]);
    row(&[
        "unsealed (control)".into(),
        ms(pct(&without, 50.0)),
        ms(pct(&without, 95.0)),
    ]);
    let text_len = {
        let d = e.document(&doc).unwrap();
        let notes = d.get(ROOT, "notes").unwrap().unwrap().1;
        d.length(&notes)
    };
    assert_eq!(text_len, SAVES);
    sealed.delete().await.unwrap();
    plain.delete().await.unwrap();
}
