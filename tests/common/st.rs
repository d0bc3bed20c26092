//! A tiny safetensors writer for tests, with knobs to corrupt every part of a file.
//!
//! Built by hand (not with the `safetensors` crate) so a test can write what no well-behaved
//! writer would: a wrong length prefix, explicit offsets, raw JSON entries, odd padding.

use half::{bf16, f16};

/// One entry of the header.
#[derive(Clone, Debug)]
enum Entry {
    Tensor {
        name: String,
        dtype: String,
        shape: Vec<u64>,
        data: Vec<u8>,
        offsets: Option<(u64, u64)>,
    },
    /// `"name": <json>` written verbatim; contributes no data.
    Raw { name: String, json: String },
}

/// A safetensors file under construction.
#[derive(Clone, Debug, Default)]
pub struct St {
    metadata: Vec<(String, String)>,
    raw_metadata: Option<String>,
    entries: Vec<Entry>,
    raw_header: Option<String>,
    header_len: Option<u64>,
    header_pad: usize,
    trailing: Vec<u8>,
}

impl St {
    /// An empty file (header `{}`).
    pub fn new() -> St {
        St::default()
    }

    /// Adds a metadata pair.
    pub fn meta(mut self, key: &str, value: &str) -> St {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// Replaces `__metadata__`'s value with raw JSON.
    pub fn raw_metadata(mut self, json: &str) -> St {
        self.raw_metadata = Some(json.into());
        self
    }

    /// Adds a tensor stored right after the previous one.
    pub fn tensor(mut self, name: &str, dtype: &str, shape: &[u64], data: Vec<u8>) -> St {
        let e = Entry::Tensor {
            name: name.into(),
            dtype: dtype.into(),
            shape: shape.into(),
            data,
            offsets: None,
        };
        self.entries.push(e);
        self
    }

    /// Adds an F32 tensor filled with `0.0, 0.5, 1.0, ...`.
    pub fn f32(self, name: &str, shape: &[u64]) -> St {
        let n: u64 = shape.iter().product();
        self.tensor(
            name,
            "F32",
            shape,
            f32_bytes(&(0..n).map(|i| i as f32 * 0.5).collect::<Vec<_>>()),
        )
    }

    /// Adds an I64 tensor filled with `0, 1, 2, ...`.
    pub fn i64(self, name: &str, shape: &[u64]) -> St {
        let n: u64 = shape.iter().product();
        self.tensor(
            name,
            "I64",
            shape,
            i64_bytes(&(0..n as i64).collect::<Vec<_>>()),
        )
    }

    /// Adds a tensor whose header claims `offsets`; its `data` is still appended in order.
    pub fn tensor_at(
        mut self,
        name: &str,
        dtype: &str,
        shape: &[u64],
        data: Vec<u8>,
        offsets: (u64, u64),
    ) -> St {
        let e = Entry::Tensor {
            name: name.into(),
            dtype: dtype.into(),
            shape: shape.into(),
            data,
            offsets: Some(offsets),
        };
        self.entries.push(e);
        self
    }

    /// Adds an entry whose value is raw JSON.
    pub fn raw_entry(mut self, name: &str, json: &str) -> St {
        self.entries.push(Entry::Raw {
            name: name.into(),
            json: json.into(),
        });
        self
    }

    /// Uses `header` verbatim as the header bytes (the data area is still appended).
    pub fn raw_header(mut self, header: &str) -> St {
        self.raw_header = Some(header.into());
        self
    }

    /// Writes `len` as the length prefix instead of the real header length.
    pub fn header_len(mut self, len: u64) -> St {
        self.header_len = Some(len);
        self
    }

    /// Pads the header with `n` trailing spaces (shifts where the data area starts).
    pub fn header_pad(mut self, n: usize) -> St {
        self.header_pad = n;
        self
    }

    /// Appends bytes after the data area.
    pub fn trailing(mut self, bytes: &[u8]) -> St {
        self.trailing.extend_from_slice(bytes);
        self
    }

    /// The header JSON as it will be written (before padding).
    pub fn header_json(&self) -> String {
        if let Some(raw) = &self.raw_header {
            return raw.clone();
        }
        let mut parts = Vec::new();
        if let Some(raw) = &self.raw_metadata {
            parts.push(format!("\"__metadata__\":{raw}"));
        } else if !self.metadata.is_empty() {
            let kv: Vec<String> = self
                .metadata
                .iter()
                .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
                .collect();
            parts.push(format!("\"__metadata__\":{{{}}}", kv.join(",")));
        }
        let mut cursor = 0u64;
        for e in &self.entries {
            match e {
                Entry::Tensor {
                    name,
                    dtype,
                    shape,
                    data,
                    offsets,
                } => {
                    let (s, end) = offsets.unwrap_or((cursor, cursor + data.len() as u64));
                    cursor += data.len() as u64;
                    let shape: Vec<String> = shape.iter().map(u64::to_string).collect();
                    parts.push(format!(
                        "{}:{{\"dtype\":{},\"shape\":[{}],\"data_offsets\":[{s},{end}]}}",
                        json_str(name),
                        json_str(dtype),
                        shape.join(",")
                    ));
                }
                Entry::Raw { name, json } => parts.push(format!("{}:{json}", json_str(name))),
            }
        }
        format!("{{{}}}", parts.join(","))
    }

    /// The file's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut header = self.header_json().into_bytes();
        header.resize(header.len() + self.header_pad, b' ');
        let len = self.header_len.unwrap_or(header.len() as u64);
        let mut out = len.to_le_bytes().to_vec();
        out.extend_from_slice(&header);
        for e in &self.entries {
            if let Entry::Tensor { data, .. } = e {
                out.extend_from_slice(data);
            }
        }
        out.extend_from_slice(&self.trailing);
        out
    }

    /// Pads the header so that the data area starts at `offset % 8 == residue`.
    pub fn data_start_residue(self, residue: usize) -> St {
        let base = 8 + self.header_json().len();
        let pad = (residue + 8 - base % 8) % 8;
        self.header_pad(pad)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings always serialise")
}

/// Little-endian bytes of f32 values.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of f16 values converted from f32.
pub fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| f16::from_f32(x).to_le_bytes())
        .collect()
}

/// Little-endian bytes of bf16 values converted from f32.
pub fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| bf16::from_f32(x).to_le_bytes())
        .collect()
}

/// Little-endian bytes of i64 values.
pub fn i64_bytes(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A BatchNorm1d child `<prefix>` of `n` features, as PyTorch saves it.
pub fn batchnorm(st: St, prefix: &str, n: u64) -> St {
    st.f32(&format!("{prefix}.weight"), &[n])
        .f32(&format!("{prefix}.bias"), &[n])
        .f32(&format!("{prefix}.running_mean"), &[n])
        .f32(&format!("{prefix}.running_var"), &[n])
        .tensor(
            &format!("{prefix}.num_batches_tracked"),
            "I64",
            &[],
            i64_bytes(&[7]),
        )
}

/// A Linear child `<prefix>` mapping `inp` to `out` features.
pub fn linear(st: St, prefix: &str, inp: u64, out: u64) -> St {
    st.f32(&format!("{prefix}.weight"), &[out, inp])
        .f32(&format!("{prefix}.bias"), &[out])
}

/// The smallest valid file of each architecture (`reckon.arch` = `arch`), seed naming.
pub fn minimal(arch: &str) -> St {
    let st = St::new().meta("reckon.arch", arch);
    match arch {
        "two_tower" => {
            let st = st
                .f32("user_embedding.weight", &[5, 4])
                .f32("item_embedding.weight", &[6, 4]);
            let st = batchnorm(linear(st, "user_mlp.0", 4, 3), "user_mlp.2", 3);
            let st = linear(st, "user_mlp.4", 3, 2);
            let st = batchnorm(linear(st, "item_mlp.0", 4, 3), "item_mlp.2", 3);
            linear(st, "item_mlp.4", 3, 2).f32("temperature", &[1])
        }
        "ranker" => {
            let st = batchnorm(linear(st, "shared.0", 6, 4), "shared.2", 4);
            let st = linear(linear(st, "click_head", 4, 1), "engage_head", 4, 1);
            linear(st, "share_head", 4, 1).meta("reckon.score_weights", "1,2,3")
        }
        "ltr" => {
            let st = linear(linear(st, "model.0", 5, 4), "model.3", 4, 3);
            linear(linear(st, "model.6", 3, 2), "model.8", 2, 1)
        }
        "fraud" => {
            let st = batchnorm(linear(st, "network.0", 3, 4), "network.2", 4);
            linear(st, "classifier", 4, 1).meta("reckon.feature_names", "a,b,c")
        }
        "deepfm" => {
            let st = st
                .f32("embeddings.0.weight", &[10, 2])
                .f32("embeddings.1.weight", &[7, 2]);
            let st = linear(st, "linear", 4, 1);
            let st = batchnorm(linear(st, "dnn.0", 4, 3), "dnn.2", 3);
            linear(st, "dnn.4", 3, 1)
                .meta("reckon.calibration", "platt")
                .f32("calibration.platt", &[2])
        }
        "item_index" => st
            .i64("ids", &[3])
            .f32("vectors", &[3, 4])
            .i64("category", &[3]),
        other => panic!("no minimal file for {other}"),
    }
}

/// Every architecture name [`minimal`] knows.
pub const ARCHS: [&str; 6] = [
    "two_tower",
    "ranker",
    "ltr",
    "fraud",
    "deepfm",
    "item_index",
];
