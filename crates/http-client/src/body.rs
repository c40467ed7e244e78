//! Reading a response body as a stream, decoding it, under a byte limit that counts
//! the decoded bytes: a decompression bomb fails with "body too large", never with an
//! out-of-memory.

use std::io::{self, Write};

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::{self, Error, Kind};

/// The content codings this client decodes, in the `Accept-Encoding` it sends.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// Collects the body, decoding `gzip`, `deflate` and `br`; the limit applies to what
/// comes out of the decoder. Decoded responses lose their `Content-Encoding` and
/// `Content-Length` headers, which described the encoded body.
pub(crate) async fn read(
    mut body: Incoming,
    headers: &mut HeaderMap,
    limit: usize,
    decompress: bool,
) -> Result<Bytes, Error> {
    let coding = if decompress {
        Coding::from_headers(headers)
    } else {
        Coding::Identity
    };
    if coding == Coding::Identity {
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(Error::new(Kind::BodyTooLarge));
        }
    } else {
        headers.remove(CONTENT_ENCODING);
        headers.remove(CONTENT_LENGTH);
    }
    let mut decoder = Decoder::new(coding, limit);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(error::from_body)?;
        if let Ok(data) = frame.into_data() {
            decoder.write(&data)?;
        }
    }
    decoder.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

impl Coding {
    fn from_headers(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()) else {
            return Coding::Identity;
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            "br" => Coding::Brotli,
            // Unknown or stacked codings are passed through undecoded, header kept.
            _ => Coding::Identity,
        }
    }
}

/// A sink that refuses to grow past its limit.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("body size limit reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Bounded),
    Gzip(flate2::write::GzDecoder<Bounded>),
    Deflate(flate2::write::ZlibDecoder<Bounded>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Bounded>>),
}

impl Decoder {
    fn new(coding: Coding, limit: usize) -> Self {
        let sink = Bounded {
            buf: Vec::new(),
            limit,
            exceeded: false,
        };
        match coding {
            Coding::Identity => Decoder::Identity(sink),
            Coding::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(sink)),
            Coding::Deflate => Decoder::Deflate(flate2::write::ZlibDecoder::new(sink)),
            Coding::Brotli => Decoder::Brotli(Box::new(
                brotli_decompressor::DecompressorWriter::new(sink, 8 * 1024),
            )),
        }
    }

    fn sink(&self) -> &Bounded {
        match self {
            Decoder::Identity(s) => s,
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Deflate(d) => d.get_ref(),
            Decoder::Brotli(d) => d.get_ref(),
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        let result = match self {
            Decoder::Identity(s) => s.write_all(data),
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Deflate(d) => d.write_all(data),
            Decoder::Brotli(d) => d.write_all(data),
        };
        result.map_err(|e| self.classify(e))
    }

    fn classify(&self, err: io::Error) -> Error {
        if self.sink().exceeded {
            Error::new(Kind::BodyTooLarge)
        } else {
            Error::new(Kind::Decode).with_source(err)
        }
    }

    fn finish(mut self) -> Result<Bytes, Error> {
        let flushed = match &mut self {
            Decoder::Identity(_) => Ok(()),
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Deflate(d) => d.try_finish(),
            Decoder::Brotli(d) => d.close(),
        };
        flushed.map_err(|e| self.classify(e))?;
        let decode = |e: io::Error| Error::new(Kind::Decode).with_source(e);
        let sink = match self {
            Decoder::Identity(s) => s,
            Decoder::Gzip(d) => d.finish().map_err(decode)?,
            Decoder::Deflate(d) => d.finish().map_err(decode)?,
            Decoder::Brotli(d) => d
                .into_inner()
                .map_err(|_| decode(io::Error::other("brotli stream incomplete")))?,
        };
        Ok(Bytes::from(sink.buf))
    }
}
