//! Which external-data files an ONNX graph needs, read from the graph's initializers without
//! loading its weights.
//!
//! Large exports keep their weights beside the graph (`model.onnx` + `model.onnx_data`): a
//! tensor whose `data_location` is EXTERNAL names its file in `external_data["location"]`,
//! relative to the graph's folder. Only the few protobuf fields on that path are decoded; every
//! other field is skipped by its length, so a single-file model of a gigabyte is read in
//! milliseconds.

use std::collections::BTreeSet;
use std::io::{self, BufReader, Read, Seek};
use std::path::Path;

// Field numbers of onnx.proto3.
const MODEL_GRAPH: u64 = 7;
const GRAPH_INITIALIZER: u64 = 5;
const TENSOR_EXTERNAL_DATA: u64 = 13;
const TENSOR_DATA_LOCATION: u64 = 14;
const ENTRY_KEY: u64 = 1;
const ENTRY_VALUE: u64 = 2;
const LOCATION_EXTERNAL: u64 = 1;

/// The external-data files `graph` references, relative to its folder, sorted and unique.
pub fn external_files(graph: &Path) -> io::Result<Vec<String>> {
    let file = std::fs::File::open(graph)?;
    let len = file.metadata()?.len();
    let mut r = Reader {
        inner: BufReader::with_capacity(64 * 1024, file),
    };
    let mut found = BTreeSet::new();
    let mut pos = 0;
    while pos < len {
        let (field, wire) = r.key(&mut pos)?;
        if field == MODEL_GRAPH && wire == 2 {
            let n = r.varint(&mut pos)?;
            let end = pos + n;
            while pos < end {
                let (field, wire) = r.key(&mut pos)?;
                if field == GRAPH_INITIALIZER && wire == 2 {
                    let n = r.varint(&mut pos)?;
                    let end = pos + n;
                    if let Some(location) = tensor_location(&mut r, &mut pos, end)? {
                        found.insert(location);
                    }
                } else {
                    r.skip(&mut pos, wire)?;
                }
            }
        } else {
            r.skip(&mut pos, wire)?;
        }
    }
    Ok(found.into_iter().collect())
}

/// The `location` of an initializer stored externally; `None` for one stored in the graph.
fn tensor_location<R: Read + Seek>(
    r: &mut Reader<R>,
    pos: &mut u64,
    end: u64,
) -> io::Result<Option<String>> {
    let mut external = false;
    let mut location = None;
    while *pos < end {
        let (field, wire) = r.key(pos)?;
        match (field, wire) {
            (TENSOR_DATA_LOCATION, 0) => external = r.varint(pos)? == LOCATION_EXTERNAL,
            (TENSOR_EXTERNAL_DATA, 2) => {
                let n = r.varint(pos)?;
                let entry_end = *pos + n;
                let (mut key, mut value) = (None, None);
                while *pos < entry_end {
                    let (field, wire) = r.key(pos)?;
                    match (field, wire) {
                        (ENTRY_KEY, 2) => key = Some(r.string(pos)?),
                        (ENTRY_VALUE, 2) => value = Some(r.string(pos)?),
                        _ => r.skip(pos, wire)?,
                    }
                }
                if key.as_deref() == Some("location") {
                    location = value;
                }
            }
            _ => r.skip(pos, wire)?,
        }
    }
    Ok(location.filter(|_| external))
}

struct Reader<R> {
    inner: R,
}

impl<R: Read + Seek> Reader<R> {
    fn byte(&mut self, pos: &mut u64) -> io::Result<u8> {
        let mut b = [0u8];
        self.inner.read_exact(&mut b)?;
        *pos += 1;
        Ok(b[0])
    }

    fn varint(&mut self, pos: &mut u64) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte(pos)?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("a varint longer than 10 bytes"))
    }

    fn key(&mut self, pos: &mut u64) -> io::Result<(u64, u8)> {
        let key = self.varint(pos)?;
        Ok((key >> 3, (key & 7) as u8))
    }

    fn string(&mut self, pos: &mut u64) -> io::Result<String> {
        let n = self.varint(pos)?;
        if n > 1 << 20 {
            return Err(invalid("an external-data entry longer than 1 MiB"));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf)?;
        *pos += n;
        String::from_utf8(buf).map_err(|_| invalid("an external-data entry that is not UTF-8"))
    }

    fn skip(&mut self, pos: &mut u64, wire: u8) -> io::Result<()> {
        let n = match wire {
            0 => {
                self.varint(pos)?;
                return Ok(());
            }
            1 => 8,
            2 => self.varint(pos)?,
            5 => 4,
            _ => return Err(invalid("an unknown protobuf wire type")),
        };
        let n = i64::try_from(n).map_err(|_| invalid("a field longer than the file"))?;
        self.inner.seek_relative(n)?;
        *pos += n as u64;
        Ok(())
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not an ONNX file: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field(num: u64, wire: u64, out: &mut Vec<u8>) {
        varint((num << 3) | wire, out);
    }

    fn bytes_field(num: u64, data: &[u8], out: &mut Vec<u8>) {
        field(num, 2, out);
        varint(data.len() as u64, out);
        out.extend_from_slice(data);
    }

    fn tensor(location: Option<&str>, raw: usize) -> Vec<u8> {
        let mut t = Vec::new();
        bytes_field(8, b"weight", &mut t); // name
        bytes_field(9, &vec![7u8; raw], &mut t); // raw_data, skipped
        if let Some(loc) = location {
            for (k, v) in [("location", loc), ("offset", "0")] {
                let mut entry = Vec::new();
                bytes_field(1, k.as_bytes(), &mut entry);
                bytes_field(2, v.as_bytes(), &mut entry);
                bytes_field(13, &entry, &mut t);
            }
            field(14, 0, &mut t);
            varint(1, &mut t);
        }
        t
    }

    fn model(tensors: &[Vec<u8>]) -> Vec<u8> {
        let mut graph = Vec::new();
        bytes_field(1, b"node-bytes", &mut graph);
        for t in tensors {
            bytes_field(5, t, &mut graph);
        }
        let mut m = Vec::new();
        field(1, 0, &mut m); // ir_version
        varint(8, &mut m);
        bytes_field(7, &graph, &mut m);
        field(5, 1, &mut m); // a fixed64 field
        m.extend_from_slice(&[0; 8]);
        m
    }

    #[test]
    fn finds_each_external_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let bytes = model(&[
            tensor(Some("m.onnx_data"), 3),
            tensor(None, 100_000),
            tensor(Some("m.onnx_data"), 0),
            tensor(Some("extra.bin"), 0),
        ]);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(
            external_files(&path).unwrap(),
            ["extra.bin".to_string(), "m.onnx_data".to_string()]
        );
    }

    #[test]
    fn single_file_model_needs_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        std::fs::write(&path, model(&[tensor(None, 5000)])).unwrap();
        assert!(external_files(&path).unwrap().is_empty());
    }

    #[test]
    fn truncated_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let mut bytes = model(&[tensor(Some("m.onnx_data"), 3)]);
        bytes.truncate(bytes.len() - 12);
        std::fs::write(&path, bytes).unwrap();
        assert!(external_files(&path).is_err());
    }
}
